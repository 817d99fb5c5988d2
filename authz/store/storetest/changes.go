package storetest

import (
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

// testChanges: every write that creates, changes or deletes a client or a
// user records one change in the feed, in seq order, and LatestChange
// names the last; a failed write records nothing; reads after the latest
// return nothing.
func testChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	start, err := s.LatestChange(ctx)
	must(t, err)
	must(t, s.CreateUser(ctx, store.User{Name: "owner", PasswordHash: "x", CreatedAt: t0}))
	c := sampleClient("feed-a")
	c.Owner = "owner"
	must(t, s.CreateClient(ctx, c))
	c.AllowedOrigins = []string{"https://new.example"}
	must(t, s.UpdateClient(ctx, c))
	must(t, s.UpsertClient(ctx, sampleClient("feed-b")))
	wantErr(t, s.UpdateClient(ctx, sampleClient("nobody")), store.ErrNotFound)
	must(t, s.DeleteClient(ctx, "feed-b", t0, lifetime))
	must(t, s.UpdateUser(ctx, store.User{Name: "owner", PasswordHash: "x", Plan: "gold"}))
	must(t, s.DeleteUser(ctx, "owner", t0.Add(time.Minute), lifetime)) // and its client feed-a

	got, err := s.ChangesSince(ctx, start)
	must(t, err)
	want := []store.Change{
		{Kind: store.ChangeClient, Key: "feed-a"},
		{Kind: store.ChangeClient, Key: "feed-a"},
		{Kind: store.ChangeClient, Key: "feed-b"},
		{Kind: store.ChangeClient, Key: "feed-b"},
		{Kind: store.ChangeUser, Key: "owner"},
		{Kind: store.ChangeClient, Key: "feed-a"},
		{Kind: store.ChangeUser, Key: "owner"},
	}
	if len(got) != len(want) {
		t.Fatalf("changes = %+v, want %d of them", got, len(want))
	}
	last := start
	for i, c := range got {
		if c.Kind != want[i].Kind || c.Key != want[i].Key || c.Seq <= last {
			t.Fatalf("change %d = %+v, want %s %q after seq %d", i, c, want[i].Kind, want[i].Key, last)
		}
		last = c.Seq
	}
	latest, err := s.LatestChange(ctx)
	must(t, err)
	if latest != last {
		t.Fatalf("LatestChange = %d, want %d", latest, last)
	}
	rest, err := s.ChangesSince(ctx, latest)
	must(t, err)
	if len(rest) != 0 {
		t.Fatalf("changes after the latest: %+v", rest)
	}
	mid, err := s.ChangesSince(ctx, got[3].Seq)
	must(t, err)
	if len(mid) != 3 || mid[0].Seq != got[4].Seq {
		t.Fatalf("changes since the fourth = %+v, want the last three", mid)
	}
}
