module github.com/intercom-actions/intercom-actions

go 1.25.0

require (
	github.com/expr-lang/expr v1.17.8
	github.com/tidwall/gjson v1.18.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/oauth2 v0.34.0
	golang.org/x/tools v0.39.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
