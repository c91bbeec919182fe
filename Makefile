# deecho: the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE := samples/speech_echo.wav
# Debian tools the tests and benchmarks use to make and check signals.
DEBIAN_TOOLS := espeak-ng sox lua5.4 tmux vim-nox
# Real sampled instruments (tests/unit/test_sampled_instruments.py): fluidsynth plays
# MuseScore's General SoundFont (without its recommends: qsynth would bring Qt); Sonic Pi's
# recorded loops and pads (tests/unit/test_recorded_loops.py, 22 MB, no dependencies).
DEBIAN_INSTRUMENTS := fluidsynth musescore-general-soundfont-small sonic-pi-samples
# Debian packages that ship the reverb bench's real recordings (bench/recordings.py): sampled
# instruments rendered by fluidsynth, Sonic Pi's drum/tabla/guitar recordings, ALSA's voice.
BENCH_DEBIAN := fluidsynth musescore-general-soundfont-small sonic-pi-samples alsa-utils
# The real hosts the plugin tests run (tests/plugins/*_host*.py), without their
# recommends (jackd, manuals, sound servers): Audacity under Xvfb, Ardour's
# headless Lua session, batch Emacs.
DEBIAN_HOSTS := audacity xvfb ardour emacs-nox
# A/B listening's test plays through a real sound server without a sound card: PulseAudio's
# null sink (recorded with parec), reached by PortAudio (sounddevice) through ALSA's pulse plugin.
DEBIAN_SOUND := pulseaudio pulseaudio-utils libportaudio2 libasound2-plugins

.PHONY: run test lint fuzz system-deps bench-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cluster]'
	touch $(STAMP)

# Installs the Debian tools when missing (CI runs as root; elsewhere it asks for sudo).
system-deps:
	@missing=""; for tool in espeak-ng sox lua5.4 tmux vim fluidsynth audacity Xvfb ardour7-lua emacs pulseaudio parec; do \
		command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	for package in libportaudio2 libasound2-plugins musescore-general-soundfont-small sonic-pi-samples; do \
		dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -y -qq"; \
		$$APT update && $$APT install $(DEBIAN_TOOLS) >/dev/null \
		&& $$APT install --no-install-recommends $(DEBIAN_INSTRUMENTS) $(DEBIAN_HOSTS) $(DEBIAN_SOUND) >/dev/null; \
	fi

# Only the benchmark needs these (about 60 MB); `make test` does not install them.
bench-deps:
	@missing=""; for package in $(BENCH_DEBIAN); do dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# On a terminal: the workspace on the bundled sample. Without one (a script, CI): the same
# job through `deecho process`, with a printed summary.
run: $(STAMP)
	@mkdir -p samples/out
	@if [ -t 0 ] && [ -t 1 ]; then \
		$(BIN)/deecho tui --backend local $(SAMPLE); \
	else \
		$(BIN)/deecho process $(SAMPLE) -o samples/out/speech_echo.no_echo.wav \
			--echo-output samples/out/speech_echo.echo.wav --force --summary; \
	fi

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench plugins samples fuzz
	$(BIN)/ruff format --check src tests bench plugins samples fuzz
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r src

# Coverage-guided fuzzing of the audio readers (atheris) for FUZZ_SECONDS; a crash
# leaves its input in fuzz/artifacts/. Not part of `make test`: it runs for minutes.
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	$(BIN)/python -m fuzz.readers $(FUZZ_SECONDS)

bench: $(STAMP) system-deps bench-deps
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.reverb
	$(BIN)/python -m bench.generality

clean:
	rm -rf $(VENV) samples/out bench/out .pytest_cache .mypy_cache .ruff_cache
