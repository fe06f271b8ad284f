package ftp

import "testing"

func TestPortRange(t *testing.T) {
	tests := []struct {
		r    PortRange
		size int
		in   []uint16
		out  []uint16
	}{
		{PortRange{}, 0, nil, []uint16{0, 1, 65535}},
		{PortRange{Min: 0, Max: 10}, 0, nil, []uint16{0, 5, 10}}, // port 0 is never in a range
		{PortRange{Min: 10, Max: 5}, 0, nil, []uint16{5, 7, 10}},
		{PortRange{Min: 21, Max: 21}, 1, []uint16{21}, []uint16{20, 22}},
		{PortRange{Min: 50000, Max: 50100}, 101, []uint16{50000, 50050, 50100}, []uint16{49999, 50101}},
		{PortRange{Min: 1, Max: 65535}, 65535, []uint16{1, 65535}, []uint16{0}},
	}
	for _, tt := range tests {
		if got := tt.r.Size(); got != tt.size {
			t.Errorf("%+v.Size() = %d, want %d", tt.r, got, tt.size)
		}
		for _, p := range tt.in {
			if !tt.r.Contains(p) {
				t.Errorf("%+v.Contains(%d) = false", tt.r, p)
			}
		}
		for _, p := range tt.out {
			if tt.r.Contains(p) {
				t.Errorf("%+v.Contains(%d) = true", tt.r, p)
			}
		}
	}
}

func TestPortMap(t *testing.T) {
	m := PortMap{From: PortRange{Min: 50000, Max: 50100}, To: 60000}
	for local, want := range map[uint16]uint16{
		50000: 60000,
		50042: 60042,
		50100: 60100,
		49999: 49999, // outside From: as it is
		50101: 50101,
	} {
		if got := m.Map(local); got != want {
			t.Errorf("Map(%d) = %d, want %d", local, got, want)
		}
	}
	if got := (PortMap{}).Map(50000); got != 50000 {
		t.Errorf("zero PortMap: Map(50000) = %d", got)
	}
	if got := (PortMap{From: m.From}).Map(50000); got != 50000 {
		t.Errorf("PortMap without To: Map(50000) = %d", got)
	}
}
