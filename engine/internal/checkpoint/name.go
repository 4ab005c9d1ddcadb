package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Name is the file name of the checkpoint of a run over inputs (absolute
// paths): send-checkpoint-STEM-HASH.ndjson, where
// STEM is the name of the first input in path order, without its extension (and how many
// more there are) and HASH is a short hash of every input's path. So runs
// over different files, even files of one name in different folders, do
// not share a checkpoint, and the same files given again, in any order,
// find theirs.
func Name(inputs []string) string {
	if len(inputs) == 0 {
		return "send-checkpoint.ndjson"
	}
	sorted := slices.Clone(inputs)
	slices.Sort(sorted)
	first := filepath.Base(sorted[0])
	stem := strings.TrimSuffix(first, filepath.Ext(first))
	if stem == "" || strings.HasPrefix(stem, ".") {
		stem = strings.TrimPrefix(first, ".")
	}
	if len(inputs) > 1 {
		stem += fmt.Sprintf("-and-%d-more", len(inputs)-1)
	}
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	return "send-checkpoint-" + stem + "-" + hex.EncodeToString(sum[:4]) + ".ndjson"
}

// Started says whether progress records anything settled: a run stopped
// or refused before its first event settled leaves nothing to resume.
func Started(progress []Progress) bool {
	for _, p := range progress {
		if p.Done || p.Mark.Line > 0 || len(p.Mark.Settled) > 0 {
			return true
		}
	}
	return false
}
