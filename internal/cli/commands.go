package cli

func commands() []command {
	return []command{
		{name: "serve", summary: "run the gateway (proxy, OAuth endpoints, admin listener)", run: runServe},
		{name: "check", summary: "validate the configuration file and list every problem", run: runCheck},
	}
}
