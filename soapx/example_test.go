package soapx_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
)

// A client over IVWS, here the fake platform's endpoint; against a real
// platform the endpoint is "http://<active ACD>:7789/".
func ExampleNew() {
	p, err := ivtest.Start(ivtest.WithQueue("default", "7015"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	t, err := soapx.New(p.SOAPURL())
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // closes t too

	ctx := context.Background()
	queues, err := c.QueueList(ctx, "default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("queues:", queues)

	_, err = c.QueueInfo(ctx, "default", "4242")
	var fault *soapx.Fault
	fmt.Println("not found:", errors.Is(err, codes.ErrNotFound), "as a SOAP fault:", errors.As(err, &fault))
	// Output:
	// queues: [7015]
	// not found: true as a SOAP fault: true
}
