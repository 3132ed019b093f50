# Two commands on a fresh machine:  `make run` (quickstart)  and  `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Tests run on PostgreSQL; .ci/prepare starts the local server when it is not running.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ocen_registry

.PHONY: run test lint check install bench screenshots

# Running the registry needs requirements.txt only; tests and tooling add requirements-dev.txt.
$(VENV)/.runtime: requirements.txt ocen_sdk/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# The quickstart: SQLite and demo keys under QUICKSTART_DIR, served on 127.0.0.1:QUICKSTART_PORT. One origin
# everywhere: the issuer and registry URLs it prints are where the server listens. The worker (webhook
# deliveries, manage.py run_worker) runs alongside the server and stops with it (ocen_registry/quickstart.py).
QUICKSTART_DIR ?= var
QUICKSTART_PORT ?= 8000

run: $(VENV)/.runtime
	$(PY) -m ocen_registry.quickstart --port $(QUICKSTART_PORT) --dir $(QUICKSTART_DIR)

test: $(VENV)/.installed
	bash .ci/prepare
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	# The participant toolkit is typed for those who import it (py.typed); settings in pyproject.toml [tool.mypy].
	$(VENV)/bin/mypy --strict ocen_sdk
	# No function or method above radon's grade B (cyclomatic complexity 10); prints offenders.
	! $(VENV)/bin/radon cc -n C -s . -e "$(VENV)/*,tests/*" | grep .

check: $(VENV)/.installed
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=ci-only-$$(date +%s)-a-long-random-looking-value-for-the-deploy-check \
	DJANGO_ALLOWED_HOSTS=registry.example.in DATABASE_URL=$(TEST_DATABASE_URL) DJANGO_BEHIND_TLS_PROXY=1 \
	REDIS_URL=redis://127.0.0.1:6379/0 \
	OCEN_SIGNING_KEY_ENCRYPTION_KEYS=$$($(PY) -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
	$(PY) manage.py check --deploy --fail-level WARNING

bench: $(VENV)/.installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	bash .ci/prepare
	$(PY) bench/secret_hash.py
	$(PY) bench/run.py $(BENCH_ARGS)

# The console's pages, photographed in Debian's chromium over a seeded throw-away registry: docs/console/*.png,
# shown in docs/console.md.
screenshots: $(VENV)/.installed
	bash .ci/prepare
	$(PY) docs/console/screenshots.py
