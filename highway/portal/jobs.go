package portal

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// jobsPage is the data of /jobs.
type jobsPage struct{ Jobs []jobCard }

type jobCard struct {
	Job *catalog.Job
	// Readable is false when the job's results derive from data the
	// visitor may not read; nothing else of them is shown then.
	Readable bool
	Slot     *time.Time
	Names    []string
	Cells    [][]string
	Charts   []chartSVG
	Error    string
}

// maxJobCharts bounds the trend charts per job: the first numeric columns.
const maxJobCharts = 4

func (s *Server) jobs(w http.ResponseWriter, r *http.Request, v *visit) {
	page := s.jobsCache.get(viewKey(v), func() jobsPage { return s.jobsData(r.Context(), v) })
	s.render(w, r, v, http.StatusOK, "jobs", msg(v.lang, "jobsTitle"), page)
}

// jobsData reads every readable job's latest results, concurrently.
func (s *Server) jobsData(ctx context.Context, v *visit) jobsPage {
	var wg sync.WaitGroup
	jobs := s.catalog().Jobs()
	page := jobsPage{Jobs: make([]jobCard, len(jobs))}
	for i, j := range jobs {
		page.Jobs[i].Job = j
		table, ok := s.cfg.API.JobResults(v.dept, j)
		if !ok {
			continue
		}
		page.Jobs[i].Readable = true
		wg.Go(func() { s.jobResults(ctx, v, table, &page.Jobs[i]) })
	}
	wg.Wait()
	return page
}

// jobResults reads a job's latest slot as a table, and charts the
// city-wide average of its first numeric columns per slot over 24 hours.
func (s *Server) jobResults(ctx context.Context, v *visit, table string, c *jobCard) {
	res, err := s.query(ctx, table, fmt.Sprintf("SELECT * FROM %s WHERE %s = (SELECT max(%s) FROM %s) LIMIT 500", table, store.ColSlot, store.ColSlot, table))
	if err != nil {
		// A job that has not run yet has no table: no results, not an error.
		if strings.Contains(err.Error(), "doesn't exist") || strings.Contains(err.Error(), "does not exist") {
			return
		}
		s.cfg.Logger.Error("jobs page: results", "table", table, "err", err)
		c.Error = err.Error()
		return
	}
	if len(res.Rows) == 0 {
		return
	}
	var keep, numeric []int
	for i, n := range res.Names {
		if n == store.ColSlot {
			if t := timeOf(res.Rows[0][i]); !t.IsZero() {
				c.Slot = &t
			}
			continue
		}
		if strings.HasPrefix(n, "_") {
			continue
		}
		keep = append(keep, i)
		c.Names = append(c.Names, n)
		if isNumericType(res.Types[i]) && len(numeric) < maxJobCharts {
			numeric = append(numeric, i)
		}
	}
	for _, row := range res.Rows {
		cells := make([]string, len(keep))
		for k, i := range keep {
			if n := number(row[i]); n != nil && strings.Contains(res.Types[i], "Float") {
				cells[k] = formatFigure(n, 1)
			} else {
				cells[k] = text(row[i])
			}
		}
		c.Cells = append(c.Cells, cells)
	}
	if len(numeric) == 0 {
		return
	}
	now := s.cfg.API.Now()
	from := now.Add(-24 * time.Hour)
	avgs := make([]string, len(numeric))
	for k, i := range numeric {
		avgs[k] = "avg(" + res.Names[i] + ")"
	}
	trend, err := s.query(ctx, table, fmt.Sprintf("SELECT toUInt32(%s) AS slot_start, %s FROM %s WHERE %s >= %s GROUP BY slot_start ORDER BY slot_start",
		store.ColSlot, strings.Join(avgs, ", "), table, store.ColSlot, sqlTime(from)))
	if err != nil {
		s.cfg.Logger.Error("jobs page: trend", "table", table, "err", err)
		return
	}
	for k, i := range numeric {
		var pts []point
		for _, row := range trend.Rows {
			at, y := number(row[0]), number(row[k+1])
			if at != nil && y != nil {
				pts = append(pts, point{time.Unix(int64(*at), 0), *y})
			}
		}
		if ch := lineChart(pts, from, now, res.Names[i], msg(v.lang, "trend")+": "+res.Names[i]); ch != "" {
			c.Charts = append(c.Charts, ch)
		}
	}
}

// isNumericType reports whether a ClickHouse type holds numbers.
func isNumericType(t string) bool {
	t = strings.TrimSuffix(strings.TrimPrefix(t, "Nullable("), ")")
	return strings.HasPrefix(t, "Float") || strings.HasPrefix(t, "Int") || strings.HasPrefix(t, "UInt") || strings.HasPrefix(t, "Decimal")
}
