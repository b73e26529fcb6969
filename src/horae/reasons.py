"""Stable codes for the reasons Horae gives when it refuses input, so that a face other than
the English one (the console in Chinese) can say the same thing in its own words.

Errors are raised with an English sentence (``InvalidInput(field, reason)``, pydantic's
messages, the API's own); :func:`code_of` recognises that sentence among the templates
below and returns its code and the values that filled it in. The API adds both to each
entry of a problem's ``errors`` (``{"field", "reason", "code", "params"}``); the console
shows the translation of the code's template, filled with the params. The English
sentence stays the API's ``reason``, so clients that read it see no change.

A template is English with ``{name}`` placeholders; each placeholder matches any text.
Templates are tried in order, so a more specific one comes before a general one that
would also match. A reason that matches none has no code and is shown as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: code -> English template. The English template is also the message key that
#: ``console/messages/zh-CN.json`` translates (a test checks each has a translation).
REASONS: dict[str, str] = {
    # cron expressions (horae.triggers.cron_parser)
    "cron.out_of_range": "{part} field {text}: value {value} is out of range {low}-{high}",
    "cron.not_a_value": "{part} field {text}: {token} is not a number {low}-{high} or a "
                        "name like {name}",
    "cron.not_a_number": "{part} field {text}: {token} is not a number {low}-{high}",
    "cron.bad_step": "{part} field {text}: step {step} must be a whole number from 1 to "
                     "{size}",
    "cron.backwards": "{part} field {text}: range {range} runs backwards; split it, e.g. "
                      "{example}",
    "cron.empty_item": "{part} field {text}: empty item in the list; remove the extra comma",
    "cron.missing_number": "{part} field {text}: a range or step is missing a number",
    "cron.question_mark": "{part} field {text}: '?' is only allowed in the day-of-month and "
                          "day-of-week fields",
    "cron.last_offset": "{part} field {text}: {item}: L-n needs n from 0 to 30",
    "cron.lone_w": "{part} field {text}: 'W' needs a day before it, e.g. 15W (weekday "
                   "nearest the 15th)",
    "cron.lone_l": "{part} field {text}: 'L' alone is ambiguous here; write 5L for the last "
                   "Friday, or put L in the day-of-month field for the month's last day",
    "cron.nth": "{part} field {text}: {item}: after '#' give 1 to 5 (which occurrence)",
    "cron.field_count_year": "expected 5 fields (minute hour day-of-month month "
                             "day-of-week) or 6 with a leading seconds field, got {count} "
                             "(a year field is not supported)",
    "cron.field_count": "expected 5 fields (minute hour day-of-month month day-of-week) or "
                        "6 with a leading seconds field, got {count}",
    "cron.too_long": "expression is {length} characters long; the limit is {limit}",
    "cron.unknown_alias": "unknown alias {alias}; use one of {known}",
    "cron.never_day": "day {days} of {months} never occurs: this expression can never fire",
    "cron.never_days": "days {days} of {months} never occur: this expression can never fire",
    "cron.never_match": "no day in {months} matches the day fields of {expr}: this "
                        "expression can never fire",
    "cron.empty": "give a cron expression such as '0 2 * * *'",
    "cron.never": "the schedule never fires from now on: its time is past, or outside "
                  "start_at/end_at",
    # time zones, instants, periods
    "zone.unknown": "unknown time zone {zone}; use an IANA name such as 'Europe/Berlin' or "
                    "'UTC'",
    "zone.missing": "give an IANA time zone name such as 'Europe/Berlin' or 'UTC'",
    "date.naive_tz": "{at} has no time zone; add an offset such as +00:00, or give "
                     "tz='Europe/Berlin' to say which zone it is in",
    "date.naive": "{at} has no time zone; add an offset such as +00:00",
    "date.not_iso_example": "{text} is not an ISO-8601 date-time such as "
                            "'2026-12-01T09:00:00+00:00'",
    "date.not_iso": "{text} is not an ISO-8601 date-time (e.g. 2026-12-01T09:00:00+08:00)",
    "date.out_of_years": "{value} is outside the supported years {low}-{high}",
    "date.out_of_range": "must be between 1970-01-01 and 9999-12-31 (UTC)",
    "period.range": "the period must be between {low} s and {high} s (100 years), got {got}",
    "period.zero": "the period must be greater than zero, got {got}",
    "period.zero_hint": "the period must be greater than zero; give seconds=..., "
                        "minutes/hours/days=..., or every='5m'",
    # triggers as data
    "trigger.kind": "expected one of {kinds}, got {kind}",
    "trigger.unknown_key": "unknown key for a {kind} trigger; allowed keys: {keys}",
    "trigger.missing_key": "missing; a {kind} trigger needs {key}",
    "trigger.tag": "Input tag {kind} found using 'kind' does not match any of the expected "
                   "tags: {kinds}",
    "trigger.required": "required: a JSON object (the trigger being edited)",
    # schedules, tasks, arguments
    "schedule.id": "1-200 characters: letters, digits and _ . : @ -, starting with a letter "
                   "or digit",
    "schedule.unknown_field": "not a field of a schedule",
    "schedule.end_before_start": "must be after start_at",
    "schedule.backoff": "must be at least retry_backoff",
    "schedule.unknown_policy": "unknown policy; known: {known}",
    "task.disabled": "task {task} is disabled until an admin allow-lists it ({setting})",
    "task.unknown_none": "unknown task {task}; known tasks: none (is a worker running?)",
    "task.unknown": "unknown task {task}; known tasks: {known}",
    "args.required": "{name} is a required property (task {task})",
    "args.type": "{value} is not of type {type} (task {task})",
    "args.enum": "{value} is not one of {choices} (task {task})",
    "args.minimum": "{value} is less than the minimum of {limit} (task {task})",
    "args.maximum": "{value} is greater than the maximum of {limit} (task {task})",
    "args.too_long": "{value} is too long (task {task})",
    "args.too_short": "{value} is too short (task {task})",
    "args.extra": "Additional properties are not allowed ({names} was unexpected) (task "
                  "{task})",
    "args.extras": "Additional properties are not allowed ({names} were unexpected) (task "
                   "{task})",
    "args.positional": "takes at most {limit} positional arguments, got {count}",
    "args.twice": "given both by position and by name",
    "run.at_or_delay": "give either at or delay, not both",
    "run.delay": "must be a number of seconds >= 0",
    "run.state": "unknown state {state}; known: {known}",
    # shapes of values (Horae's own and pydantic's)
    "value.list": "must be a list",
    "value.object": "must be an object",
    "value.strings": "must be a list of strings",
    "value.integer": "must be an integer",
    "value.finite": "must be a finite number",
    "value.json_object": "a JSON object is required",
    "value.json_object_not": "must be a JSON object, not {type}",
    "value.nul": "must not contain a NUL character",
    "value.unicode": "is not valid Unicode text",
    "value.one_of": "must be one of {choices}",
    "value.required": "Field required",
    "value.extra": "Extra inputs are not permitted",
    "value.int": "Input should be a valid integer",
    "value.int_parse": "Input should be a valid integer, unable to parse string as an "
                       "integer",
    "value.number": "Input should be a valid number",
    "value.string": "Input should be a valid string",
    "value.bool": "Input should be a valid boolean",
    "value.dict": "Input should be a valid dictionary",
    "value.array": "Input should be a valid list",
    "value.choice": "Input should be {choices}",
    "value.ge": "Input should be greater than or equal to {limit}",
    "value.le": "Input should be less than or equal to {limit}",
    "value.gt": "Input should be greater than {limit}",
    "value.lt": "Input should be less than {limit}",
    "value.max_length": "String should have at most {limit} characters",
    "value.min_length": "String should have at least {limit} character",
    "value.min_length_n": "String should have at least {limit} characters",
    "value.pattern": "String should match pattern {pattern}",
    "value.max_items": "List should have at most {limit} items after validation, not {count}",
    # backfills (horae.backfill)
    "backfill.to_before_from": "must be after from",
    "backfill.future": "is in the future ({to} > now {now}); a backfill covers the past, the "
                       "schedule itself fires from now on",
    "backfill.too_many": "the range holds more than {limit} fires (from {start}); split it "
                         "into smaller backfills",
    "backfill.concurrency": "must be between {low} and {high}",
    "value.whole_number": "must be a whole number",
    # accounts
    "user.name": "1-100 letters, digits and _ . @ -, starting with a letter or digit",
    "password.short": "must be at least {limit} characters long",
    "password.long": "must be at most {limit} characters long",
    "value.text": "must be text",
    # conflicts (409 and 412 details) the console shows
    "schedule.exists": "schedule {id} already exists",
    "schedule.lost_update": "schedule {id} is at version {version}, not {expected}: someone "
                            "changed it since you read it; read it again and retry",
    "run.finished": "run {id} already finished ({state})",
    "backfill.ended": "backfill {id} already ended ({state})",
    "run.not_finished": "run {id} has not finished ({state}); cancel it first",
    "user.exists": "a user named {name} exists; choose another name",
    "user.taken": "already taken",
    "user.self_lockout": "you cannot disable yourself or lower your own role (that would "
                         "lock you out); ask another admin",
    # why a run ended or never ran, in its error (the run page shows it)
    "run.cancelled_running": "cancelled while running",
    "run.cancelled_before": "cancelled before it started",
    "run.cancelled_by_worker": "cancelled ({reason}) before it started",
    "run.cancelled_how": "cancelled ({reason})",
    "run.lease_expired": "lease expired: worker {worker} stopped renewing it",
    "run.timed_out": "timed out after {seconds}s",
    "run.child_killed": "child process killed ({reason}) {when} reporting a result",
    "run.child_exit_code": "child process exited with code {code} {when} reporting a result",
    "run.child_exited": "child process exited {when} reporting a result",
    "run.no_worker": "no live worker serves queue {queue}",
    "run.cancelled_backfill": "cancelled: its backfill was cancelled",
    "run.result_not_json": "result is not JSON: {detail}",
    # why a workflow step was skipped or failed, how a workflow run ended (more specific
    # first: "step {step} failed" would also match a skip's reason)
    "workflow.upstream_skipped_failed": "upstream step {step} was skipped: its upstream failed",
    "workflow.upstream_skipped": "upstream step {step} was skipped",
    "workflow.upstream_timed_out": "upstream step {step} timed out",
    "workflow.upstream_lost": "upstream step {step} was lost",
    "workflow.upstream_cancelled": "upstream step {step} was cancelled",
    "workflow.upstream_failed": "upstream step {step} failed",
    "workflow.no_upstream_failed": "no upstream step failed",
    "workflow.step_skipped_failed": "step {step} was skipped: its upstream failed",
    "workflow.step_timed_out": "step {step} timed out",
    "workflow.step_lost": "step {step} was lost",
    "workflow.step_cancelled": "step {step} was cancelled",
    "workflow.step_failed": "step {step} failed",
    "workflow.map_not_list": "map: step {upstream} returned {kind}, not a list; "
                             "step {step} maps over its result",
    "workflow.cancelled": "cancelled with its workflow run",
    "skip.newer": "overlap={overlap}: a later fire was due in the same pass ({age} s ago) and "
                  "only the newest one runs",
    "skip.blocked_oldest": "overlap={overlap}: {n} earlier runs of this schedule still "
                           "{where} (the oldest created {age} s ago)",
    "skip.blocked_one_oldest": "overlap={overlap}: {n} earlier run of this schedule still "
                               "{where} (the oldest created {age} s ago)",
    "skip.blocked": "overlap={overlap}: {n} earlier runs of this schedule still {where}",
    "skip.blocked_one": "overlap={overlap}: {n} earlier run of this schedule still {where}",
    "miss.latest": "{late} s late, beyond misfire_grace={grace} s; catchup=latest runs only "
                   "the newest missed fire",
    "miss.window": "{late} s late, beyond misfire_grace={grace} s and beyond "
                   "catchup_window={window} s",
    "miss.policy": "{late} s late, beyond misfire_grace={grace} s (catchup={catchup})",
    # why a schedule fired or not at an instant (horae.explain)
    "explain.fired": "fired as run {run_id} ({state})",
    "explain.skipped": "skipped (run {run_id}): {why}",
    "explain.missed": "missed (run {run_id}): {why}",
    "explain.missed_down": "missed (run {run_id}): no scheduler was running from {since} to "
                           "{until}; {why}",
    "explain.expired": "fired as run {run_id}, which was not started in time: {why}",
    "explain.paused": "the schedule was paused at {since} and resumed at {until}",
    "explain.paused_still": "the schedule was paused at {since} and is still paused",
    "explain.paused_now": "the schedule is paused, and no recorded change says since when",
    "explain.not_a_fire_time": "not a fire time of the schedule: the fire before it is "
                               "{before}, the one after it {after}",
    "explain.before_start": "before the schedule's start_at ({start})",
    "explain.after_end": "after the schedule's end_at ({end})",
    "explain.max_fires": "the schedule had already fired max_fires={max_fires} times",
    "explain.superseded": "the schedule was edited at {at} by {actor} (version {version}); "
                          "the trigger before that edit fired then, the new one does not",
    "explain.superseded_due": "the fire was due but not yet made when the schedule was "
                              "changed at {at} by {actor} (version {version}); it fires "
                              "again from that change on",
    "explain.scheduler_down": "no scheduler was running from {since} to {until}",
    "explain.scheduler_down_still": "no scheduler has been running since {since}",
    "explain.no_scheduler": "no scheduler is running to make it (none has been seen since it "
                            "was due)",
    "explain.not_created": "the schedule did not exist yet: it was created at {created}",
    "explain.due": "due: the next scheduler pass turns it into a run",
    "explain.no_record": "a fire time of the schedule, but no run of it is kept (retention "
                         "deletes old runs)",
    "explain.will_fire": "will fire at {fire}; the fire after it is at {next}",
    "explain.will_fire_no_scheduler": "will fire at {fire} if a scheduler is running then "
                                      "(none is running now); the fire after it is at {next}",
    "explain.will_not_fire_paused": "will not fire: the schedule is paused",
    "explain.will_not_fire_before_start": "will not fire: it is before the schedule's "
                                          "start_at ({start})",
    "explain.will_not_fire_after_end": "will not fire: it is after the schedule's end_at "
                                       "({end})",
    "explain.will_not_fire_max_fires": "will not fire: max_fires={max_fires} is reached "
                                       "before then ({fires} fires so far)",
    "explain.will_not_fire_never": "will not fire: the schedule has no next fire",
    # notification channels (horae.alerts.channels, the API's channel_routes)
    "channel.name": "must be 1-100 letters, digits, '_', '.' or '-', starting with a letter "
                    "or digit",
    "channel.unknown_field": "not a field of a {kind} channel (its fields: {known})",
    "channel.unknown_secret": "not a secret of a {kind} channel (its secrets: {known})",
    "channel.username": "is required when a password is set",
    "channel.timeout": "must be a number of seconds above 0, at most {limit}",
    "channel.exists": "a channel named {name} exists; choose another name",
    "channel.lost_update": "channel {id} is at version {version}, not {expected}: someone "
                           "changed it since you read it; read it again and retry",
    "channel.not_found": "channel {id} not found",
    "value.non_empty": "must be a non-empty string",
    "value.max_chars": "must be at most {limit} characters",
    "value.is_required": "is required",
    "value.true_false": "must be true or false",
    "value.port": "must be a whole number from 1 to 65535",
    "secret.text": "must be text of at most {limit} characters",
    "url.needed": "must be a URL starting with https:// or http://",
    "url.text": "must be a URL without spaces, of at most {limit} characters",
    "url.invalid": "is not a valid URL",
    "url.scheme": "must start with https:// or http://",
    "url.host": "must name a host",
    "url.userinfo": "must not carry a user or password; use the secret fields",
    "email.address": "must be an email address like ops@example.com",
    "email.list": "must be a list of at least one email address",
    "email.too_many": "must list at most {limit} addresses",
    # why a channel's delivery failed (horae.alerts.senders: the console's test result)
    "delivery.status_reason": "{platform} answered HTTP {status}: {reason}",
    "delivery.receiver_status": "the receiver answered HTTP {status}",
    "delivery.status": "{platform} answered HTTP {status}",
    "delivery.not_json": "{platform} answered something that is not JSON",
    "delivery.refused": "{platform} refused the message: {key} {code}: {reason}",
    "delivery.timeout": "timed out after {seconds} s waiting for {origin}",
    "delivery.unreachable": "could not reach {origin}: {error}",
    "delivery.redirect": "answered with a redirect (HTTP {status}) to {origin}; redirects to "
                         "another host, or that would drop the body, are not followed",
    "delivery.redirects": "too many redirects",
    "smtp.sender": "the server refused the sender ({reply})",
    "smtp.recipient": "the server refused the recipient {address} ({reply})",
    "smtp.message": "the server refused the message ({reply})",
    "smtp.login": "the server refused the login ({reply})",
    "smtp.error": "the server answered with an error ({reply})",
    "smtp.unsupported": "the server does not support it: {error}",
    "smtp.timeout": "timed out after {seconds} s talking to {server}",
    "smtp.tls": "TLS failed: {error}",
    "smtp.unreachable": "could not talk to {server}: {error}",
    # not found (404 details)
    "schedule.not_found": "schedule {id} not found",
    "run.not_found": "run {id} not found",
    "task.not_found": "task {id} not found",
    "backfill.not_found": "backfill {id} not found",
}

#: Params that name parts of Horae (a cron field, months, a run state, where a blocking
#: run is): the console translates their value too, each item of a ", " separated list.
TRANSLATED_PARAMS = ("part", "months", "state", "where", "when", "actor")
#: The words ``where`` and ``when`` take (horae.policies, the process executor); ``part``
#: takes cron field labels, ``months`` month names, ``state`` run states.
PARAM_WORDS = ("waiting in the queue", "running", "waiting or running", "before", "after",
               "an unaudited caller")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    compiled = []
    for code, template in REASONS.items():
        pieces, position = [], 0
        for match in _PLACEHOLDER.finditer(template):
            pieces.append(re.escape(template[position:match.start()]))
            pieces.append(f"(?P<{match.group(1)}>.*?)")
            position = match.end()
        pieces.append(re.escape(template[position:]))
        compiled.append((code, re.compile("".join(pieces), re.DOTALL)))
    return compiled


@lru_cache(maxsize=4096)
def _match(reason: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    for code, pattern in _patterns():
        found = pattern.fullmatch(reason)
        if found is not None:
            return code, tuple(found.groupdict().items())
    return None


def code_of(reason: str) -> tuple[str, dict[str, str]] | None:
    """(code, params) of an English reason, or None when no template says it."""
    found = _match(reason)
    return None if found is None else (found[0], dict(found[1]))


def coded(error: dict[str, str]) -> dict[str, object]:
    """An ``{"field", "reason"}`` entry with its ``code`` and ``params`` when known."""
    found = code_of(error.get("reason", ""))
    if found is None:
        return dict(error)
    return {**error, "code": found[0], "params": found[1]}
