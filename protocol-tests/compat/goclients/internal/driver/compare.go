package driver

import (
	"bytes"
	"fmt"
	"sort"
)

// Compare checks got holds exactly want, in order within each partition, byte for byte,
// at offsets 0, 1, 2... of each partition.
func Compare(want, got []Record) error {
	if len(got) != len(want) {
		return fmt.Errorf("consumed %d records, expected %d", len(got), len(want))
	}
	for p := int32(0); p < Partitions; p++ {
		w, h := ofPartition(want, p), ofPartition(got, p)
		if len(w) != len(h) {
			return fmt.Errorf("partition %d: %d records, expected %d", p, len(h), len(w))
		}
		for i := range w {
			if err := sameRecord(w[i], h[i], int64(i)); err != nil {
				return fmt.Errorf("partition %d record %d: %w", p, i, err)
			}
		}
	}
	return nil
}

func ofPartition(recs []Record, p int32) []Record {
	var out []Record
	for _, r := range recs {
		if r.Partition == p {
			out = append(out, r)
		}
	}
	return out
}

func sameRecord(w, h Record, offset int64) error {
	switch {
	case h.Offset != offset:
		return fmt.Errorf("offset %d", h.Offset)
	case !bytes.Equal(h.Key, w.Key):
		return fmt.Errorf("key %q != %q", h.Key, w.Key)
	case !bytes.Equal(h.Value, w.Value):
		return fmt.Errorf("value differs (%d bytes vs %d)", len(h.Value), len(w.Value))
	case !h.Timestamp.Equal(w.Timestamp):
		return fmt.Errorf("timestamp %v != %v", h.Timestamp, w.Timestamp)
	case len(h.Headers) != len(w.Headers):
		return fmt.Errorf("%d headers, expected %d", len(h.Headers), len(w.Headers))
	}
	for i := range w.Headers {
		if h.Headers[i].Key != w.Headers[i].Key || !bytes.Equal(h.Headers[i].Value, w.Headers[i].Value) {
			return fmt.Errorf("header %d: %q=%q, expected %q=%q", i, h.Headers[i].Key,
				h.Headers[i].Value, w.Headers[i].Key, w.Headers[i].Value)
		}
	}
	return nil
}

// SameValues reports whether got holds the values of want, in any order.
func SameValues(want, got []Record) bool {
	if len(want) != len(got) {
		return false
	}
	w, g := make([]string, 0, len(want)), make([]string, 0, len(got))
	for i := range want {
		w, g = append(w, string(want[i].Value)), append(g, string(got[i].Value))
	}
	sort.Strings(w)
	sort.Strings(g)
	for i := range w {
		if w[i] != g[i] {
			return false
		}
	}
	return true
}

// ExactlyOnce checks seen (partition/offset -> times processed) holds every offset below
// end[p] of every partition exactly once.
func ExactlyOnce(seen map[[2]int64]int, end map[int32]int64) error {
	total := int64(0)
	for p, e := range end {
		total += e
		for o := int64(0); o < e; o++ {
			if n := seen[[2]int64{int64(p), o}]; n != 1 {
				return fmt.Errorf("partition %d offset %d processed %d times", p, o, n)
			}
		}
	}
	return Check(int64(len(seen)) == total, "%d distinct records processed, %d produced", len(seen), total)
}
