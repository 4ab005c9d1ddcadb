// Package swar tests eight bytes of a string at once (SIMD within a
// register) for the bytes JSON text treats specially, for the scanners and
// writers that skip runs of plain bytes.
package swar

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

const ones, highs = 0x0101010101010101, 0x8080808080808080

// Load returns s[i:i+8] as a little-endian word. The caller ensures
// i+8 <= len(s).
func Load(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
}

// Special marks, with its high bit, each byte of x that is a quote, a
// backslash or a control character. Bytes after the first marked one may
// be marked falsely (a borrow carries into them), so only the lowest mark
// is exact: where the first such byte is.
func Special(x uint64) uint64 {
	control := (x - ones*0x20) &^ x & highs // a byte below 0x20
	return hasZeroByte(x^(ones*'"')) | hasZeroByte(x^(ones*'\\')) | control
}

// NonASCII marks each byte of x at or above 0x80 with its high bit.
func NonASCII(x uint64) uint64 { return x & highs }

// FirstMarked is the index of the lowest marked byte of a non-zero mask.
func FirstMarked(mask uint64) int { return bits.TrailingZeros64(mask) >> 3 }

// hasZeroByte is non-zero when some byte of v is zero.
func hasZeroByte(v uint64) uint64 {
	return (v - ones) &^ v & highs
}
