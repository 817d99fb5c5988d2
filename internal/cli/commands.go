package cli

func commands() []command {
	return []command{
		{name: "serve", summary: "run the gateway (proxy, OAuth endpoints, admin listener)", run: runServe},
		{name: "check", summary: "validate the configuration file and list every problem", run: runCheck},
		{name: "client create", summary: "register an OAuth client; prints its secret once", run: runClientCreate},
		{name: "client list", summary: "list clients", run: runClientList},
		{name: "client show", summary: "show one client", run: runClientShow},
		{name: "client update", summary: "change a client's name, grants, scopes, redirect URIs, origins or plan", run: runClientUpdate},
		{name: "client delete", summary: "delete a client and revoke every token issued to it", run: runClientDelete},
		{name: "user add", summary: "create a login user (password from stdin)", run: runUserAdd},
		{name: "user delete", summary: "delete a user with their clients and revoke their tokens", run: runUserDelete},
		{name: "user update", summary: "change a user's entitlements (scopes and plan of their clients)", run: runUserUpdate},
		{name: "user list", summary: "list login users and their entitlements", run: runUserList},
		{name: "usage", summary: "a client's requests per day, its plan and what is left of its quota", run: runUsage},
		{name: "sessions list", summary: "list a client's current sessions", run: runSessionsList},
		{name: "sessions revoke", summary: "revoke one session", run: runSessionsRevoke},
		{name: "apikey create", summary: "make an admin API key; prints it once", run: runAPIKeyCreate},
		{name: "apikey list", summary: "list the admin API keys", run: runAPIKeyList},
		{name: "apikey revoke", summary: "revoke an admin API key", run: runAPIKeyRevoke},
		{name: "token a2a", summary: "mint a one-year application-to-application token", run: runTokenA2A},
		{name: "keys list", summary: "list the token-signing keys", run: runKeysList},
		{name: "keys rotate", summary: "make a new signing key and retire the current one", run: runKeysRotate},
		{name: "subscription add", summary: "give a user a subscription (routes may require one)", run: runSubscriptionAdd},
		{name: "subscription list", summary: "list a user's subscriptions", run: runSubscriptionList},
		{name: "subscription remove", summary: "remove a subscription", run: runSubscriptionRemove},
		{name: "version", summary: "print the version of this binary (also --version)", run: runVersion},
	}
}
