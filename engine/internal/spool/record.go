package spool

import (
	"encoding/binary"
	"errors"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// recordVersion is the first byte of an event record.
const recordVersion = 1

// record is a stored event: when it was received, the rule it is limited
// to (a replayed dead letter), where it came from, and its JSON.
type record struct {
	received int64 // Unix ns
	only     string
	ref      string
	data     []byte
}

// encodeRecord lays a record out as: version, received (8 bytes, big
// endian), len(only) and only, len(ref) and ref (lengths as uvarints), then
// the JSON to the end.
func encodeRecord(r record) []byte {
	b := make([]byte, 0, 1+8+2*binary.MaxVarintLen64+len(r.only)+len(r.ref)+len(r.data))
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.received))
	b = binary.AppendUvarint(b, uint64(len(r.only)))
	b = append(b, r.only...)
	b = binary.AppendUvarint(b, uint64(len(r.ref)))
	b = append(b, r.ref...)
	return append(b, r.data...)
}

var errBadRecord = errors.New("spool: damaged record")

// decodeRecord reads a record; data aliases b.
func decodeRecord(b []byte) (record, error) {
	if len(b) < 9 || b[0] != recordVersion {
		return record{}, errBadRecord
	}
	r := record{received: int64(binary.BigEndian.Uint64(b[1:9]))}
	b = b[9:]
	var err error
	if r.only, b, err = readString(b); err != nil {
		return record{}, err
	}
	if r.ref, b, err = readString(b); err != nil {
		return record{}, err
	}
	r.data = b
	return r, nil
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, errBadRecord
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// recordSize is the size of an item's record.
func recordSize(it delivery.Item) int64 {
	return int64(1 + 8 + uvarintLen(len(it.Only)) + len(it.Only) + uvarintLen(len(it.Ref)) + len(it.Ref) + len(it.Data))
}

func uvarintLen(n int) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], uint64(n))
}
