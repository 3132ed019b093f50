"""`manage.py run_worker`: the registry's background worker (webhook deliveries), whatever queue is underneath.

Today that is django-tasks' database backend: this is its `db_worker` command under the registry's one name,
with the same options (`--help`). Run as many as needed, on as many machines: each claims a task with
SELECT … FOR UPDATE SKIP LOCKED, and deliveries to one subscription are made by one worker at a time."""

from django_tasks_db.management.commands import db_worker


class Command(db_worker.Command):
    help = "Run the registry's background worker (webhook deliveries); the options are django-tasks-db's db_worker's."
