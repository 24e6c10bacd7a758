package portal

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// pageNames are the templates in templates/, each rendered inside base.html.
var pageNames = []string{"city", "feeds", "feed", "jobs", "signin", "notfound", "request", "access"}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// localized is a text with the language it is really in, which differs
// from the page's when a spec lacks a translation (the page then marks it
// with its own lang attribute).
type localized struct {
	S    string
	Lang string
}

// localize returns t in lang, else in English.
func localize(t catalog.Text, lang string) localized {
	if s := t[lang]; s != "" {
		return localized{s, lang}
	}
	return localized{t[catalog.English], catalog.English}
}

// funcs are the templates' functions. Every one is pure.
var funcs = template.FuncMap{
	"t": msg,
	// args passes the page's language with a value to a shared template.
	"args":    func(lang string, v any) map[string]any { return map[string]any{"L": lang, "V": v} },
	"percent": percent,
	// safeSVG inlines a chart drawn by chart.go, which escapes its texts.
	"safeSVG": func(c chartSVG) template.HTML { return template.HTML(c) }, //nolint:gosec // see chart.go
	"hkt": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.In(hongKong).Format("2006-01-02 15:04 HKT")
	},
	"fig":      formatFigure,
	"langName": func(l string) string { return languageNames[l] },
	"seconds": func(s float64) string {
		d := time.Duration(s * float64(time.Second))
		switch {
		case d%(24*time.Hour) == 0:
			return strconv.Itoa(int(d/(24*time.Hour))) + " d"
		case d%time.Hour == 0:
			return strconv.Itoa(int(d/time.Hour)) + " h"
		case d%time.Minute == 0:
			return strconv.Itoa(int(d/time.Minute)) + " min"
		}
		return d.String()
	},
	"bound": func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	},
	"query": func(path string, kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		if len(q) == 0 {
			return path
		}
		return path + "?" + q.Encode()
	},
}

// languageNames are the languages' names in themselves, for the switch.
var languageNames = map[string]string{catalog.English: "English", catalog.TraditionalChinese: "繁體中文"}

// formatFigure writes a figure with the digits it deserves, or "—".
func formatFigure(v *float64, digits int) string {
	if v == nil || math.IsNaN(*v) {
		return "—"
	}
	return strconv.FormatFloat(*v, 'f', digits, 64)
}

// layout is what base.html needs besides the page's own data.
type layout struct {
	Lang   string
	Title  string
	Path   string
	Switch []localized // the other languages, with the link to this page in each
	Dept   string
	CSRF   string
	Notice string
	// Refresh is the city page's polling period in seconds; 0 elsewhere.
	Refresh int
	Page    any
}

// render writes a page. Rendering goes to a buffer first, so a template
// error is a clean 500, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name, title string, page any) {
	l := layout{Lang: v.lang, Title: title, Path: r.URL.Path, CSRF: v.csrf, Notice: v.notice, Page: page}
	if v.dept != nil {
		l.Dept = v.dept.Name
	}
	if name == "city" {
		l.Refresh = int(s.cfg.Refresh.Seconds())
	}
	for _, other := range catalog.Languages {
		if other != v.lang {
			q := r.URL.Query()
			q.Set("lang", other)
			l.Switch = append(l.Switch, localized{S: r.URL.Path + "?" + q.Encode(), Lang: other})
		}
	}
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, l); err != nil {
		s.cfg.Logger.Error("portal page failed", "page", name, "err", err)
		http.Error(w, "internal error: this is a bug in highway; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", v.lang)
	w.Header().Set("Vary", "Cookie, Accept-Language")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, v *visit) {
	s.render(w, r, v, http.StatusNotFound, "notfound", msg(v.lang, "notFound"), nil)
}
