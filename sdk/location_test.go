package sdk

import "testing"

func TestMountedLocation(t *testing.T) {
	for _, c := range []struct{ loc, want string }{
		{"/notes/", "/api/notes/"},
		{"/", "/api/"},
		{"/api", "/api"},
		{"/api/notes", "/api/notes"},
		{"/api?page=2", "/api?page=2"},
		{"/api#top", "/api#top"},
		{"/apiary", "/api/apiary"},
		{"https://example.com/x", "https://example.com/x"},
		{"//example.com/x", "//example.com/x"},
		{`/\example.com/x`, `/\example.com/x`},
		{"notes/", "notes/"},
		{"?page=2", "?page=2"},
		{"", ""},
	} {
		if got := mountedLocation("/api", c.loc); got != c.want {
			t.Errorf("mountedLocation(/api, %q) = %q, want %q", c.loc, got, c.want)
		}
	}
}

// Natively GetMany reads the in-memory store, absent keys left out, and
// refuses what the host would.
func TestGetManyNative(t *testing.T) {
	s, err := OpenKV("getmany-test")
	if err != nil {
		t.Fatal(err)
	}
	s.Set("a", []byte("1"))
	s.Set("b", []byte{})
	got, err := s.GetMany([]string{"a", "x", "b"})
	if err != nil || len(got) != 2 || string(got["a"]) != "1" || got["b"] == nil {
		t.Fatalf("GetMany = %q, %v", got, err)
	}
	if _, err := s.GetMany([]string{"a", ""}); err == nil {
		t.Error("GetMany with an empty key: no error")
	}
	if _, err := s.GetMany(make([]string, 1001)); err == nil {
		t.Error("GetMany of 1001 keys: no error")
	}
}
