// Command gin is a small JSON API on gin, on the key-value store: notes
// that a client lists, reads, creates and deletes. Mounted at /api (see
// plugins/examples/site.hcl), it shows that a router's redirects keep the
// mount: GET /api/notes/ redirects to /api/notes, because the host sends
// X-Forwarded-Prefix and gin builds its trailing-slash redirect with it.
package main

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wasmhost/wasmhost/sdk"
)

// note is what the API answers and accepts.
type note struct {
	ID   int64  `json:"id"`
	Text string `json:"text" binding:"required"`
}

func init() {
	gin.SetMode(gin.ReleaseMode)
	sdk.Handle(router())
}

func router() *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) })
	r.GET("/notes", listNotes)
	r.POST("/notes", createNote)
	r.GET("/notes/:id", getNote)
	r.DELETE("/notes/:id", deleteNote)
	return r
}

func store(c *gin.Context) (*sdk.KV, bool) {
	kv, err := sdk.OpenKV("default")
	if err != nil {
		c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		return nil, false
	}
	return kv, true
}

// fail answers a store error: 503 when the store did not answer in time,
// so a client can retry, 500 otherwise.
func fail(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, sdk.ErrTimeout) {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, gin.H{"error": err.Error()})
}

// listNotes reads every note with two host calls, Keys and GetMany,
// however many notes there are (up to GetMany's 1,000).
func listNotes(c *gin.Context) {
	kv, ok := store(c)
	if !ok {
		return
	}
	keys, err := kv.Keys("note:")
	if err != nil {
		fail(c, err)
		return
	}
	vals, err := kv.GetMany(keys)
	if err != nil {
		fail(c, err)
		return
	}
	notes := []note{}
	for _, k := range keys {
		if v, ok := vals[k]; ok {
			id, _ := strconv.ParseInt(k[len("note:"):], 10, 64)
			notes = append(notes, note{ID: id, Text: string(v)})
		}
	}
	c.JSON(http.StatusOK, notes)
}

func createNote(c *gin.Context) {
	var n note
	if err := c.ShouldBindJSON(&n); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	kv, ok := store(c)
	if !ok {
		return
	}
	id, err := kv.Increment("next-id", 1)
	if err == nil {
		n.ID = id
		err = kv.Set(noteKey(id), []byte(n.Text))
	}
	if err != nil {
		fail(c, err)
		return
	}
	// An absolute path built without the mount: the SDK puts it in front.
	c.Header("Location", "/notes/"+strconv.FormatInt(id, 10))
	c.JSON(http.StatusCreated, n)
}

// noteOf is the store and the note id of a /notes/:id request; ok is false
// when the answer is already written.
func noteOf(c *gin.Context) (kv *sdk.KV, id int64, ok bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "the note id is a number"})
		return nil, 0, false
	}
	kv, ok = store(c)
	return kv, id, ok
}

func getNote(c *gin.Context) {
	kv, id, ok := noteOf(c)
	if !ok {
		return
	}
	v, err := kv.Get(noteKey(id))
	if errors.Is(err, sdk.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such note"})
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, note{ID: id, Text: string(v)})
}

func deleteNote(c *gin.Context) {
	kv, id, ok := noteOf(c)
	if !ok {
		return
	}
	if err := kv.Delete(noteKey(id)); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// noteKey pads the id so that Keys, sorted bytewise, lists notes in order.
func noteKey(id int64) string { return "note:" + leftPad(strconv.FormatInt(id, 10), 10) }

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

func main() {}
