package upload

import "testing"

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		size, part int64
		count      int
		last       int64
	}{
		{0, 8 * MiB, 0, 0},
		{1, 8 * MiB, 1, 1},
		{8 * MiB, 8 * MiB, 1, 8 * MiB},
		{8*MiB + 1, 8 * MiB, 2, 1},
		{10000 * 8 * MiB, 8 * MiB, 10000, 8 * MiB},
		{10000*8*MiB + 1, 9 * MiB, 8889, 10000*8*MiB + 1 - 8888*9*MiB},
		{S3MaxObject, S3MaxPart, 10000, S3MaxPart},
	} {
		p, err := NewPlan(tc.size, DefaultMinPartSize)
		if err != nil || p.PartSize != tc.part || p.PartCount != tc.count || p.PartLen(p.PartCount) != tc.last {
			t.Errorf("NewPlan(%d) = %+v last %d (%v); want part %d count %d last %d", tc.size, p, p.PartLen(p.PartCount), err, tc.part, tc.count, tc.last)
		}
		var total int64
		for n := 1; n <= p.PartCount; n++ {
			total += p.PartLen(n)
		}
		if total != tc.size || p.PartCount > S3MaxParts || p.PartSize > S3MaxPart {
			t.Errorf("NewPlan(%d): parts sum to %d", tc.size, total)
		}
	}
	if _, err := NewPlan(S3MaxObject+1, DefaultMinPartSize); err == nil {
		t.Error("a file beyond 10,000 x 5 GiB was planned")
	}
	if _, err := NewPlan(-1, DefaultMinPartSize); err == nil {
		t.Error("negative size planned")
	}
}

func TestChecksumValidation(t *testing.T) {
	for _, tc := range []struct {
		c  Checksum
		ok bool
	}{
		{Checksum{"CRC32", "AAAAAA=="}, true},
		{Checksum{"CRC32C", "AAAAAA=="}, true},
		{Checksum{"CRC64NVME", "AAAAAAAAAAA="}, true},
		{Checksum{"CRC64NVME", "AAAAAA=="}, false},
		{Checksum{"SHA256", "AAAAAA=="}, false},
		{Checksum{"CRC32", "!!"}, false},
		{Checksum{"crc32", "AAAAAA=="}, false},
	} {
		if err := validateChecksum(&tc.c); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.c, err)
		}
	}
}
