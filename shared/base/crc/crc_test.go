package crc_test

import (
	"math/rand/v2"
	"testing"

	"github.com/anexo/anexo/shared/base/crc"
)

// The catalogue's check values (CRC of "123456789").
func TestCheckValues(t *testing.T) {
	for alg, want := range map[string]string{
		crc.CRC32:     "y/Q5Jg==",     // 0xcbf43926
		crc.CRC32C:    "4waSgw==",     // 0xe3069283
		crc.CRC64NVME: "rosUhgp5mIg=", // 0xae8b14860a799888
	} {
		if got := crc.Of(alg, []byte("123456789")); got != want {
			t.Errorf("%s = %s, want %s", alg, got, want)
		}
	}
	if crc.Of("MD5", nil) != "" || crc.Size("SHA256") != 0 {
		t.Error("an algorithm S3 does not combine was accepted")
	}
}

// Combining the pieces' CRCs gives the CRC of the whole, for every cut:
// empty pieces, one byte, parts of unequal length.
func TestCombineMatchesWholeCRC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<16+3)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	cuts := [][]int{{len(data)}, {0, len(data)}, {1, len(data) - 1}, {5000, 5000, len(data) - 10000}, {len(data) - 1, 0, 1}}
	for range 20 {
		var c []int
		for left := len(data); left > 0; {
			n := min(left, rng.IntN(9000))
			c, left = append(c, n), left-n
		}
		cuts = append(cuts, c)
	}
	for _, alg := range crc.Algorithms {
		for _, cut := range cuts {
			var pieces []crc.Piece
			off := 0
			for _, n := range cut {
				pieces = append(pieces, crc.Piece{Value: crc.Of(alg, data[off:off+n]), Size: int64(n)})
				off += n
			}
			got, err := crc.Combine(alg, pieces)
			if err != nil {
				t.Fatal(err)
			}
			if want := crc.Of(alg, data); got != want {
				t.Fatalf("%s over cut %v: %s, want %s", alg, cut, got, want)
			}
		}
		if got, _ := crc.Combine(alg, nil); got != crc.Empty(alg) || got != crc.Of(alg, nil) {
			t.Errorf("%s of nothing: %s", alg, got)
		}
	}
}

// A piece longer than 4 GiB (parts go up to 5 GiB) combines like the
// short ones: the x^(8n) table is not cut at 32 bits. CRC32C runs at memory
// speed, so the whole is hashed for real.
func TestCombinePastFourGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 4 GiB")
	}
	zeros := make([]byte, 1<<20)
	whole, second := crc.New(crc.CRC32C), crc.New(crc.CRC32C)
	whole.Write([]byte("a"))
	const n = 4<<10 + 1 // MiB
	for range n {
		whole.Write(zeros)
		second.Write(zeros)
	}
	got, err := crc.Combine(crc.CRC32C, []crc.Piece{{Value: crc.Of(crc.CRC32C, []byte("a")), Size: 1}, {Value: crc.Encode(second), Size: n << 20}})
	if err != nil || got != crc.Encode(whole) {
		t.Fatalf("%s, %v; want %s", got, err, crc.Encode(whole))
	}
	if _, err := crc.Combine(crc.CRC32C, []crc.Piece{{Value: "AAAA", Size: 1}}); err == nil {
		t.Error("a 3-byte CRC32C was accepted")
	}
}
