"""The all-local stand-in for a cluster: API server emulator, pod runner, sandbox command."""
