# workers/maths.py
from taskq import task


@task                                    # queue "default", 3 retries, 300 s timeout
def add(a: int, b: int) -> int:
    return a + b


@task
def multiply(a: int, b: int) -> int:
    return a * b


@task(queue="emails", retries=5, timeout=30)
def send_email(to: str, subject: str) -> None:
    ...
