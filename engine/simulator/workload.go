package simulator

import "fmt"

// Workload is a stream of Segment events for tests and benchmarks that
// send to the simulator: for each of users users an identify, a group (in
// one of companies companies), two tracks and a second identify that
// renames them — in that order per user, the users interleaved as in a
// real stream. Each event is one JSON line, without its newline.
func Workload(users, companies int) []string {
	out := make([]string, 0, 5*users)
	for step := range 5 {
		for u := range users {
			ts := fmt.Sprintf("2024-01-01T00:%02d:%02dZ", step, u%60)
			var ev string
			switch step {
			case 0:
				ev = fmt.Sprintf(`{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d"},"timestamp":%q}`, u, u, u, ts)
			case 1:
				c := u % companies
				ev = fmt.Sprintf(`{"type":"group","userId":"u%d","groupId":"g%d","traits":{"name":"Company %d","employees":%d,"plan":"pro"}}`, u, c, c, c+1)
			case 2:
				ev = fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Signed Up","timestamp":%q,"properties":{"plan":"pro","seats":%d}}`, u, ts, u%7)
			case 3:
				ev = fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Order Completed","timestamp":%q,"properties":{"revenue":%d.5,"currency":"EUR"}}`, u, ts, u%100)
			case 4:
				ev = fmt.Sprintf(`{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d (renamed)"},"timestamp":%q}`, u, u, u, ts)
			}
			out = append(out, ev)
		}
	}
	return out
}
