//go:build !durableapi

package integration

// Until stompx has SubscribeDurable (branch durable), the durable-event
// tests build only with -tags durableapi; this file is removed then.

const workerEnv = "IV_ITEST_DURABLE_WORKER"

func workerProcess() int { return 2 }
