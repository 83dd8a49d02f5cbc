"""Everything with a model or a server: the embedded model, vLLM server management, the
rollout client, rejection sampling, evaluation and the CLI."""
