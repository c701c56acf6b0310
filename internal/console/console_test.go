package console

import (
	"encoding/json"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func seqs(rows []ivtest.Notice) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		json.Unmarshal(r.Body, &out[i])
	}
	return out
}

// The ring gives the oldest rows after a sequence number, up to another
// and at most as many as asked, counts those it no longer holds, and says
// where a reader stands after them.
func TestRing(t *testing.T) {
	r := newRing(5)
	for i := 1; i <= 8; i++ { // holds 4..8
		r.add(ivtest.Notice{Body: []byte(fmt.Sprint(i))})
	}
	for _, c := range []struct {
		after, upto int64
		limit       int
		want        []int
		skipped     int64
		reached     int64
	}{
		{6, 8, 10, []int{7, 8}, 0, 8},
		{0, 8, 10, []int{4, 5, 6, 7, 8}, 3, 8},
		{0, 6, 10, []int{4, 5, 6}, 3, 6},
		{4, 8, 2, []int{5, 6}, 0, 6},
		{0, 8, 2, []int{4, 5}, 3, 5},
		{8, 8, 10, nil, 0, 8},
		{0, 2, 10, nil, 2, 2},
	} {
		rows, skipped, reached := r.take(c.after, c.upto, c.limit)
		if got := seqs(rows); fmt.Sprint(got) != fmt.Sprint(c.want) && !(len(got) == 0 && len(c.want) == 0) || skipped != c.skipped || reached != c.reached {
			t.Errorf("take(%d, %d, %d) = %v, %d skipped, at %d; want %v, %d, %d", c.after, c.upto, c.limit, got, skipped, reached, c.want, c.skipped, c.reached)
		}
	}
}

func TestDiff(t *testing.T) {
	prev := map[string][]byte{"a": []byte(`1`), "b": []byte(`2`), "c": []byte(`3`)}
	cur := map[string][]byte{"a": []byte(`1`), "b": []byte(`20`), "d": []byte(`4`)}
	d := diff(prev, cur)
	if len(d.Upsert) != 2 || len(d.Delete) != 1 || d.Delete[0] != "c" {
		t.Errorf("diff: %+v", d)
	}
	if diff(cur, cur) != nil {
		t.Error("no change: a table")
	}
}
