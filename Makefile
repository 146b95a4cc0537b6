# meshctl — the two set-up commands of the README, and a build.
.PHONY: demo test build

# Run the main job end to end on a throwaway database.
demo:
	scripts/demo

# Run every check and test (installs Docker and builds images if needed).
test:
	scripts/test

build:
	go build -o bin/meshctl ./cmd/meshctl
