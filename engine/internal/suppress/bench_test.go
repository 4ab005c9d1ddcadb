package suppress

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// BenchmarkMemoryFor1MContacts measures the heap the Memory takes for a
// million contacts, each with its body, its identity and one attachment
// (3 entries), with runtime.MemStats: reported as MB and bytes/contact.
func BenchmarkMemoryFor1MContacts(b *testing.B) {
	const contacts = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := New(Config{Size: 3 * contacts})
		seen := int64(1_700_000_000)
		for i := range contacts {
			id := fmt.Sprintf("65c%021x", i)
			body := intercom.ContactBody{Role: "user", ExternalID: fmt.Sprintf("user-%d", i), Email: fmt.Sprintf("user-%d@example.com", i), LastSeenAt: &seen}
			m.rememberContact(id, body, contactSum(body))
			m.put(attachKey(id, fmt.Sprintf("65d%021x", i%1000)), entry{at: seen})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if m.Len() != 3*contacts {
			b.Fatalf("%d entries", m.Len())
		}
		used := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(used/1e6, "MB")
		b.ReportMetric(used/contacts, "bytes/contact")
		runtime.KeepAlive(m)
	}
}

// BenchmarkUnchangedContact is the cost of answering an unchanged update
// from the Memory (digest, lookup), against the HTTP call it saves.
func BenchmarkUnchangedContact(b *testing.B) {
	m := New(Config{LastSeenResolution: DefaultLastSeenResolution})
	seen := int64(1_700_000_000)
	body := intercom.ContactBody{Role: "user", ExternalID: "user-1", Email: "user-1@example.com", Name: "Ann", LastSeenAt: &seen}
	m.rememberContact("65c000000000000000000001", body, contactSum(body))
	for b.Loop() {
		if !m.unchangedContact("65c000000000000000000001", contactSum(body)) {
			b.Fatal("changed")
		}
	}
}

// BenchmarkChangedContact is the Memory's cost around an update that is
// sent: the check that finds the body changed, and remembering it.
func BenchmarkChangedContact(b *testing.B) {
	m := New(Config{LastSeenResolution: DefaultLastSeenResolution})
	seen := int64(1_700_000_000)
	bodies := [2]intercom.ContactBody{
		{Role: "user", ExternalID: "user-1", Email: "user-1@example.com", Name: "Ann", LastSeenAt: &seen},
		{Role: "user", ExternalID: "user-1", Email: "user-1@example.com", Name: "Ann B.", LastSeenAt: &seen},
	}
	m.rememberContact("65c000000000000000000001", bodies[0], contactSum(bodies[0]))
	i := 0
	for b.Loop() {
		i++
		body := bodies[i%2]
		sum := contactSum(body)
		if m.unchangedContact("65c000000000000000000001", sum) {
			b.Fatal("unchanged")
		}
		m.rememberContact("65c000000000000000000001", body, sum)
	}
}
