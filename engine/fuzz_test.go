package engine

import "testing"

// FuzzEvaluate feeds arbitrary bytes to the default rules: every input
// gives actions or an error, never a panic.
func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		`{"type":"identify","userId":"u","traits":{"email":"a@b.c","createdAt":"2024-01-01"}}`,
		`{"type":"track","event":"E","userId":"u","timestamp":1700000000000,"properties":{"revenue":"1.5","currency":"JPY","a":{"b":1}}}`,
		`{"type":"group","groupId":"g","traits":{"employees":"12.5","monthly_spend":"x"}}`,
		`[]`, `{`, `{"type":1}`,
	} {
		f.Add([]byte(s))
	}
	eng := defaultEngine(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		actions, err := eng.Evaluate(in)
		if err == nil && len(actions) == 0 {
			return // a good event no rule matched
		}
		for _, a := range actions {
			if a.Rule == "" || a.Kind == nil || a.Fields == nil {
				t.Fatalf("action without rule or name: %+v", a)
			}
		}
	})
}
