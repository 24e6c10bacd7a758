package portal

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
)

// feedsPage is the data of /feeds.
type feedsPage struct {
	Q, Dept, Field, Access string
	Departments            []string
	Feeds                  []feedCard
}

type feedCard struct {
	Title, Description localized
	Info               api.FeedInfo
	// Quality is the quality score of the ledger (0-100), else the share of
	// records the processors in this process accepted, else "—".
	Quality string
}

func (s *Server) feeds(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	page := feedsPage{Q: strings.TrimSpace(q.Get("q")), Dept: q.Get("department"), Field: strings.TrimSpace(q.Get("field")), Access: q.Get("access")}
	readable := s.cfg.API.Readable(v.dept)
	var match []*catalog.Feed
	for _, f := range readable {
		if !slices.Contains(page.Departments, f.Department) {
			page.Departments = append(page.Departments, f.Department)
		}
		if matches(f, page.Q, page.Dept, page.Field, page.Access) {
			match = append(match, f)
		}
	}
	slices.Sort(page.Departments)
	for i, fi := range s.describe(r.Context(), match) {
		c := feedCard{Title: localize(titleOf(match[i]), v.lang), Description: localize(match[i].Descriptions, v.lang), Info: fi}
		c.Quality = qualityOf(fi)
		page.Feeds = append(page.Feeds, c)
	}
	s.render(w, r, v, http.StatusOK, "feeds", msg(v.lang, "feedsTitle"), page)
}

// matches says whether a feed passes the catalogue's search: text in its
// name, title, description or fields' names and descriptions (any
// language, any case), its department, a field whose name contains field,
// and its access. Empty criteria match everything.
func matches(f *catalog.Feed, text, dept, field, access string) bool {
	if dept != "" && f.Department != dept {
		return false
	}
	if access != "" && string(f.Access) != access {
		return false
	}
	if field != "" && !slices.ContainsFunc(f.Fields, func(fld catalog.Field) bool {
		return strings.Contains(fld.Name, strings.ToLower(field))
	}) {
		return false
	}
	if text == "" {
		return true
	}
	text = strings.ToLower(text)
	hay := []string{f.Name, f.Department}
	for _, t := range []catalog.Text{f.Title, f.Descriptions} {
		for _, s := range t {
			hay = append(hay, s)
		}
	}
	for _, fld := range f.Fields {
		hay = append(hay, fld.Name)
		for _, s := range fld.Descriptions {
			hay = append(hay, s)
		}
	}
	return slices.ContainsFunc(hay, func(s string) bool { return strings.Contains(strings.ToLower(s), text) })
}

// qualityOf is what the catalogue shows of a feed's quality: the ledger's
// score out of 100 where there is one, else the share of records accepted
// by the processors in this process, else "—".
func qualityOf(fi api.FeedInfo) string {
	switch {
	case fi.Score != nil:
		return strconv.FormatFloat(fi.Score.Score, 'f', 0, 64) + " / 100"
	case fi.Quality != nil && fi.Quality.Completeness != nil:
		return percent(fi.Quality.Completeness)
	}
	return "—"
}
