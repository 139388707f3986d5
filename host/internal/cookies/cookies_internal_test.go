package cookies

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestSignedValues(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const cur, old = "current-secret-0123456789", "previous-secret-0123456789"
	signed := Sign(cur, "app", "user", "alice|admin", now)
	if strings.Contains(signed, cur) || strings.Contains(signed, "alice") {
		t.Fatalf("signed value %q shows the secret or the value in clear", signed)
	}
	check := func(scope, name string, secrets []string, value string, age time.Duration, want string, ok bool) {
		t.Helper()
		got, good := Verify(secrets, scope, name, value, 744*time.Hour, now.Add(age))
		if got != want || good != ok {
			t.Errorf("verify(%q, %q, %q, age %v) = %q %v, want %q %v", scope, name, value, age, got, good, want, ok)
		}
	}
	check("app", "user", []string{cur, ""}, signed, time.Hour, "alice|admin", true)
	check("app", "user", []string{cur, ""}, signed, 745*time.Hour, "", false) // expired
	check("app", "user", []string{cur, ""}, signed, -time.Hour, "", false)    // from the future
	check("app", "other", []string{cur, ""}, signed, 0, "", false)            // moved to another cookie
	check("app", "user", []string{old, ""}, signed, 0, "", false)             // another secret
	check("app", "user", []string{old, cur}, signed, 0, "alice|admin", true)  // rotated: the previous secret still verifies
	check("other", "user", []string{cur, old}, signed, 0, "", false)          // another scope
	check("other", "user", []string{old, cur}, signed, 0, "", false)          // another scope, after a rotation
	parts := strings.Split(signed, "|")
	if len(parts) != 5 || parts[0] != "3" || parts[1] != "app" {
		t.Fatalf("signed value %q is not 3|scope|value|time|mac", signed)
	}
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "|")
	}
	forgeries := []string{
		"", "3|", "2|" + strings.Join(parts[2:], "|"), // a version 2 value, as signed before scopes
		with(0, "2"),
		with(1, "other"), // the scope field edited: refused in the scope it names...
		with(2, "Ym9i"),  // another value
		with(3, "1900000000"),
		with(4, strings.Repeat("0", 64)),
		with(4, parts[4][:63]),
		with(4, strings.ToUpper(parts[4])),
		signed + "|x", // extra field
	}
	for _, f := range forgeries {
		check("app", "user", []string{cur, old}, f, 0, "", false)
	}
	// ... and in the scope it names, whose MAC it does not carry.
	check("other", "user", []string{cur, old}, with(1, "other"), 0, "", false)
	// A scope and name cannot trade bytes: the fields are framed by length.
	if a, b := cookieMAC(cur, "ab", "c", "x", "1"), cookieMAC(cur, "a", "bc", "x", "1"); a == b {
		t.Errorf("scope %q name %q and scope %q name %q share a MAC", "ab", "c", "a", "bc")
	}
}

func TestSignedValueV2Refused(t *testing.T) {
	// A version 2 value as the host signed it before scopes: MAC over
	// name|value|time. Any plugin could have minted it, so none verifies.
	now := time.Unix(1_800_000_000, 0)
	const secret = "current-secret-0123456789"
	v2 := "2|YWRtaW4|1800000000|" + legacyMAC(secret, "user", "YWRtaW4", "1800000000")
	for _, scope := range []string{"app", "user", ""} {
		if v, ok := Verify([]string{secret}, scope, "user", v2, 744*time.Hour, now); ok {
			t.Errorf("a version 2 value verifies in scope %q: %q", scope, v)
		}
	}
}

// legacyMAC is the version 2 MAC, to build the values a site signed before
// the upgrade.
func legacyMAC(secret, name, enc, ts string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(name + "|" + enc + "|" + ts))
	return hex.EncodeToString(m.Sum(nil))
}
