// Package redisbus joins the hubs of hosts sharing a Redis through Redis
// pub/sub: the "redis" pubsub backend. Every hub subscribes to one
// channel for published messages and one of its own for messages to its
// connections, so a hub sees every publish (and can replay any of them
// to an event stream) and SendTo costs one Redis PUBLISH to one hub.
//
// Redis pub/sub is at-most-once: a hub that is disconnected from Redis
// misses what is published meanwhile (go-redis reconnects and
// resubscribes by itself), and Redis keeps nothing to replay.
package redisbus

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
)

// Backend is a realtime.Backend over Redis pub/sub.
type Backend struct {
	rdb    redis.UniversalClient
	prefix string
	ps     *redis.PubSub
	wg     sync.WaitGroup
}

// New returns a backend publishing on channels named prefix+"pub" and
// prefix+"hub:"+id. Hubs sharing a prefix (one pubsub block of a site)
// reach each other; others on the same Redis do not.
func New(rdb redis.UniversalClient, prefix string) *Backend {
	return &Backend{rdb: rdb, prefix: prefix}
}

func (b *Backend) pubChannel() string           { return b.prefix + "pub" }
func (b *Backend) hubChannel(hub string) string { return b.prefix + "hub:" + hub }

// Start subscribes and waits for Redis to confirm, so a publish made
// after the hub starts reaches it.
func (b *Backend) Start(hubID string, recv func(realtime.Envelope)) error {
	ctx := context.Background()
	b.ps = b.rdb.Subscribe(ctx, b.pubChannel(), b.hubChannel(hubID))
	for range 2 { // one confirmation per channel
		if _, err := b.ps.Receive(ctx); err != nil {
			b.ps.Close()
			return err
		}
	}
	ch := b.ps.Channel(redis.WithChannelSize(1024))
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for m := range ch {
			var e realtime.Envelope
			if e.UnmarshalBinary([]byte(m.Payload)) == nil {
				recv(e)
			}
		}
	}()
	return nil
}

// Broadcast publishes e to every hub (a hub skips its own).
func (b *Backend) Broadcast(ctx context.Context, e realtime.Envelope) error {
	p, _ := e.MarshalBinary()
	return b.rdb.Publish(ctx, b.pubChannel(), p).Err()
}

// Send publishes e to hubID's channel.
func (b *Backend) Send(ctx context.Context, hubID string, e realtime.Envelope) error {
	p, _ := e.MarshalBinary()
	return b.rdb.Publish(ctx, b.hubChannel(hubID), p).Err()
}

// Close unsubscribes; the Redis client is the caller's to close.
func (b *Backend) Close() error {
	var err error
	if b.ps != nil {
		err = b.ps.Close()
	}
	b.wg.Wait()
	return err
}
