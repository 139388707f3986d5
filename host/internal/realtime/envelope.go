package realtime

import (
	"encoding/binary"
	"errors"
)

// Kind says what an Envelope carries between hubs.
type Kind byte

const (
	// KindPublish is a message published to a topic: every hub delivers
	// it to its subscribers of Topic.
	KindPublish Kind = 1
	// KindSendTo is a message for the one connection named by Target.
	KindSendTo Kind = 2
	// KindHello introduces a hub (Origin) to a relay; it carries no data.
	KindHello Kind = 3
)

// Envelope is what backends carry from one hub to the others.
type Envelope struct {
	Kind   Kind
	Origin string // the id of the hub that sent it
	ID     string // the message id, unique across hubs (SSE "id:")
	Topic  string // KindPublish
	Target string // KindSendTo: the connection id
	Data   []byte
}

var errEnvelope = errors.New("realtime: malformed envelope")

// MarshalBinary encodes e as its kind, four length-prefixed strings and
// the data, the form both backends put on the wire.
func (e Envelope) MarshalBinary() ([]byte, error) {
	n := 1 + 4*binary.MaxVarintLen32 + len(e.Origin) + len(e.ID) + len(e.Topic) + len(e.Target) + len(e.Data)
	b := make([]byte, 0, n)
	b = append(b, byte(e.Kind))
	for _, s := range [...]string{e.Origin, e.ID, e.Topic, e.Target} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, e.Data...), nil
}

// UnmarshalBinary decodes what MarshalBinary encoded. Data shares b.
func (e *Envelope) UnmarshalBinary(b []byte) error {
	if len(b) < 1 {
		return errEnvelope
	}
	e.Kind, b = Kind(b[0]), b[1:]
	for _, s := range [...]*string{&e.Origin, &e.ID, &e.Topic, &e.Target} {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return errEnvelope
		}
		*s, b = string(b[w:w+int(n)]), b[w+int(n):]
	}
	e.Data = b
	return nil
}
