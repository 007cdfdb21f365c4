package readbody_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/anexo/anexo/shared/base/readbody"
)

func TestAll(t *testing.T) {
	data := bytes.Repeat([]byte("anexo"), 1000)
	for _, tc := range []struct {
		name string
		size int64
		r    io.Reader
		want []byte
	}{
		{"announced", int64(len(data)), bytes.NewReader(data), data},
		{"unknown", -1, bytes.NewReader(data), data},
		{"shorter than announced", int64(len(data)) + 10, bytes.NewReader(data), data},
		{"longer than announced", 10, bytes.NewReader(data), data},
		{"empty", 0, bytes.NewReader(nil), []byte{}},
		{"one byte at a time", int64(len(data)), iotest.OneByteReader(bytes.NewReader(data)), data},
		{"too large to trust", readbody.MaxAnnounced + 1, bytes.NewReader(data), data},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readbody.All(tc.r, tc.size)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("All = %d bytes, %v; want %d bytes", len(got), err, len(tc.want))
			}
		})
	}
	boom := errors.New("boom")
	if _, err := readbody.All(iotest.ErrReader(boom), 10); !errors.Is(err, boom) {
		t.Fatalf("a failing reader: %v", err)
	}
	if _, err := readbody.All(io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)), 10); !errors.Is(err, boom) {
		t.Fatalf("a reader failing after the announced size: %v", err)
	}
}

// BenchmarkAll compares reading a 2 MiB body announced with io.ReadAll
// (run it with -race too: that is where the difference is largest).
func BenchmarkAll(b *testing.B) {
	data := make([]byte, 2<<20)
	b.Run("readbody", func(b *testing.B) {
		for b.Loop() {
			_, _ = readbody.All(bytes.NewReader(data), int64(len(data)))
		}
	})
	b.Run("io.ReadAll", func(b *testing.B) {
		for b.Loop() {
			_, _ = io.ReadAll(bytes.NewReader(data))
		}
	})
}
