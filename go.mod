module github.com/instantvoice/instantvoice-go

go 1.26.0

require (
	github.com/chromedp/chromedp v0.23.1
	github.com/go-stomp/stomp/v3 v3.1.5
	github.com/google/uuid v1.6.0
	github.com/stretchr/testify v1.12.1
	github.com/tiaguinho/gosoap v1.4.4
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.62.0
)

require (
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/text v0.44.0 // indirect
)
