"""The shared job store: one Redis server (standalone or behind Sentinel) for several API replicas.

Every state change is one Lua script, so it is atomic on the server without a lock of our own, and
every timestamp comes from the server's ``TIME``, so replicas whose clocks disagree still agree on
when a lease runs out. Times are kept as integer microseconds.

Keys, all under ``{namespace}:``:

* ``job:{id}``   hash: status, step, progress, attempts, error, created, updated, lease_owner,
  lease_expires, result, result_key, more_results (``pictures.py``), warning, and the inputs (person,
  clothing, and a whole outfit's bottom) until the job ends.
* ``queued``     sorted set of queued job ids, scored by creation time (oldest first).
* ``leases``     sorted set of processing job ids, scored by lease expiry.
* ``finished``   hash of counters: completed, failed (so ``counts`` never scans keys).
* ``ended``      sorted set of completed and failed job ids, scored by when they ended (retention).
* ``clock``      the last creation time handed out, so creation times are unique and increasing.
* ``claim:{token}``  the job a claim call took, for 60 s: a claim retried after its reply was
  lost gets the same job back instead of taking a second one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .pictures import first_picture, more_pictures_json, pictures_of
from .records import JobInputs, JobRecord, JobResult, JobStatus
from .store import JobStore, QueueFull

# The hash fields a JobRecord is read from, in the order every script and ``get`` returns them.
_RECORD_FIELDS = (
    "status", "step", "progress", "attempts", "error", "created", "updated", "result", "result_key", "warning",
    "options", "details", "more_results",
)

_PRELUDE = """
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- Lua would print a microsecond timestamp as 1.776e+15; write every one as a whole number.
local function us(n) return string.format('%d', n) end
"""

_CREATE = _PRELUDE + """
-- KEYS: job, queued, clock.  ARGV: id, person, clothing, token, options (JSON), max queued or '',
-- bottom or '' (none).
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- The same call retried after its reply was lost: it already went through.
  if redis.call('HGET', KEYS[1], 'create_token') == ARGV[4] then
    return redis.call('HGET', KEYS[1], 'created')
  end
  return false
end
local queued = redis.call('ZCARD', KEYS[2])
if ARGV[6] ~= '' and queued >= tonumber(ARGV[6]) then return {'queue full', queued} end
local now = now_us()
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
if now <= last then now = last + 1 end
local created = us(now)
redis.call('SET', KEYS[3], created)
redis.call('HSET', KEYS[1], 'status', 'queued', 'progress', 0, 'attempts', 0,
           'created', created, 'updated', created,
           'person', ARGV[2], 'clothing', ARGV[3], 'create_token', ARGV[4], 'options', ARGV[5])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'bottom', ARGV[7]) end
redis.call('ZADD', KEYS[2], created, ARGV[1])
return created
"""

_CLAIM = _PRELUDE + """
-- KEYS: queued, leases, finished, claim token, ended.  ARGV: job key prefix, worker, lease_us, max_attempts.
local prefix, worker = ARGV[1], ARGV[2]
local lease, max_attempts = tonumber(ARGV[3]), tonumber(ARGV[4])

local function reply(id, key)
  local r = redis.call('HMGET', key, 'status', 'step', 'progress', 'attempts', 'error',
                       'created', 'updated', 'result', 'result_key', 'warning', 'options', 'details',
                       'more_results', 'person', 'clothing', 'bottom')
  table.insert(r, 1, id)
  return r
end

-- The same call retried after its reply was lost gets the job it already took.
local earlier = redis.call('GET', KEYS[4])
if earlier then
  local key = prefix .. earlier
  local held = redis.call('HMGET', key, 'status', 'lease_owner')
  if held[1] == 'processing' and held[2] == worker then return reply(earlier, key) end
  return false
end

local now = now_us()
while true do
  -- The oldest runnable job: the head of the queue, or an older job whose lease expired.
  local best, best_created = nil, nil
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head > 0 then best, best_created = head[1], tonumber(head[2]) end
  -- Expired leases are rare (a worker died); looking at 100 of them bounds the script's time.
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. us(now), 'LIMIT', 0, 100)
  for _, id in ipairs(expired) do
    local created = tonumber(redis.call('HGET', prefix .. id, 'created'))
    if created == nil then
      redis.call('ZREM', KEYS[2], id)  -- its record is gone
    elseif best == nil or created < best_created then
      best, best_created = id, created
    end
  end
  if best == nil then return false end

  local key = prefix .. best
  local job = redis.call('HMGET', key, 'attempts', 'step')
  local attempts = tonumber(job[1])
  redis.call('ZREM', KEYS[1], best)
  if attempts == nil then
    redis.call('ZREM', KEYS[2], best)  -- its record is gone
  elseif attempts >= max_attempts then
    local step = job[2]
    if not step or step == '' then step = 'none' end
    redis.call('ZREM', KEYS[2], best)
    redis.call('HSET', key, 'status', 'failed', 'updated', us(now), 'error', string.format(
      'Gave up after %d attempts: the service stopped while running this job (last step: %s).',
      attempts, step))
    redis.call('HDEL', key, 'lease_owner', 'lease_expires', 'person', 'clothing', 'bottom', 'result',
                'create_token')
    redis.call('HINCRBY', KEYS[3], 'failed', 1)
    redis.call('ZADD', KEYS[5], now, best)
  else
    local expires = us(now + lease)
    redis.call('ZADD', KEYS[2], expires, best)
    redis.call('HSET', key, 'status', 'processing', 'attempts', attempts + 1,
               'lease_owner', worker, 'lease_expires', expires, 'updated', us(now))
    redis.call('SET', KEYS[4], best, 'EX', 60)
    return reply(best, key)
  end
end
"""

_ADVANCE = _PRELUDE + """
-- KEYS: job, leases.  ARGV: id, worker, lease_us, step, progress.
local job = redis.call('HMGET', KEYS[1], 'status', 'lease_owner', 'progress')
if job[1] ~= 'processing' or job[2] ~= ARGV[2] then return 0 end
local now = now_us()
local expires = us(now + tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'lease_expires', expires, 'updated', us(now))
redis.call('ZADD', KEYS[2], expires, ARGV[1])
-- A job that runs again after a restart does not report earlier steps a second time.
if tonumber(job[3]) <= tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[1], 'step', ARGV[4], 'progress', ARGV[5])
end
return 1
"""

_RENEW = _PRELUDE + """
-- KEYS: leases.  ARGV: job key prefix, worker, lease_us, id...
local expires = us(now_us() + tonumber(ARGV[3]))
for i = 4, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  local job = redis.call('HMGET', key, 'status', 'lease_owner')
  if job[1] == 'processing' and job[2] == ARGV[2] then
    redis.call('HSET', key, 'lease_expires', expires)
    redis.call('ZADD', KEYS[1], expires, ARGV[i])
  end
end
return 0
"""

_FINISH = _PRELUDE + """
-- KEYS: job, queued, leases, finished, ended.
-- ARGV: id, worker, status, result or error, token, result_key, warning, details (JSON),
--       more_results (JSON).
local job = redis.call('HMGET', KEYS[1], 'status', 'lease_owner', 'finish_token')
if job[1] ~= 'processing' or job[2] ~= ARGV[2] then
  -- Refused, unless this is the same call retried after its reply was lost.
  if job[3] == ARGV[5] then return 1 end
  return 0
end
local now = us(now_us())
if ARGV[3] == 'completed' then
  redis.call('HSET', KEYS[1], 'status', 'completed', 'step', 'done',
             'progress', 100, 'updated', now, 'finish_token', ARGV[5])
  redis.call('HDEL', KEYS[1], 'error')
  -- Empty strings stand for "none": a result uploaded elsewhere keeps no bytes here.
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[4]) end
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'result_key', ARGV[6]) end
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'warning', ARGV[7]) end
  redis.call('HSET', KEYS[1], 'details', ARGV[8], 'more_results', ARGV[9])
else
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[4], 'updated', now,
             'finish_token', ARGV[5])
  redis.call('HDEL', KEYS[1], 'result')
end
redis.call('HDEL', KEYS[1], 'lease_owner', 'lease_expires', 'person', 'clothing', 'bottom', 'create_token')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
redis.call('ZADD', KEYS[5], now, ARGV[1])
return 1
"""

_CANCEL = _PRELUDE + """
-- KEYS: job, queued, leases, finished, ended.  ARGV: id, reason.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'processing' then return 0 end
local now = us(now_us())
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[2], 'updated', now)
redis.call('HDEL', KEYS[1], 'lease_owner', 'lease_expires', 'person', 'clothing', 'bottom', 'create_token')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'failed', 1)
redis.call('ZADD', KEYS[5], now, ARGV[1])
return 1
"""

_PURGE = _PRELUDE + """
-- KEYS: ended, finished.  ARGV: job key prefix, age_us.  Deletes at most 500 jobs per call.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. us(now_us() - tonumber(ARGV[2])),
                       'LIMIT', 0, 500)
for _, id in ipairs(ids) do
  local status = redis.call('HGET', ARGV[1] .. id, 'status')
  if status then redis.call('HINCRBY', KEYS[2], status, -1) end
  redis.call('DEL', ARGV[1] .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
"""

_COUNTS = """
-- KEYS: queued, leases, finished.  One script, so the four numbers are one snapshot.
local finished = redis.call('HMGET', KEYS[3], 'completed', 'failed')
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]),
        tonumber(finished[1] or '0'), tonumber(finished[2] or '0')}
"""


class RedisJobStore(JobStore):
    """Job records and the queue in Redis, shared by every replica that uses the same ``namespace``.

    Calls ride out a Redis restart: a failed connection is retried with a short exponential backoff
    for about ``retry_seconds``, then the error is raised (the worker pool logs it and polls again).
    Scripts are loaded again after a restart (redis-py's ``Script`` handles ``NOSCRIPT``).
    """

    def __init__(
        self,
        url: str,
        *,
        lease_seconds: float = 20,
        max_attempts: int = 3,
        namespace: str = "tryon",
        retry_seconds: float = 10,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._lease_us = max(1, round(lease_seconds * 1_000_000))
        self._max_attempts = max_attempts
        self._prefix = f"{namespace}:"
        self._queued = f"{namespace}:queued"
        self._leases = f"{namespace}:leases"
        self._finished = f"{namespace}:finished"
        self._clock = f"{namespace}:clock"
        self._ended = f"{namespace}:ended"
        self._pool = redis.ConnectionPool.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=2, base=0.05), retries=_retries_for(retry_seconds)),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=10,
            socket_connect_timeout=2,
            socket_timeout=5,
        )
        self._redis = redis.Redis(connection_pool=self._pool)
        register = self._register
        self._create = register(_CREATE)
        self._claim = register(_CLAIM)
        self._advance = register(_ADVANCE)
        self._renew = register(_RENEW)
        self._finish = register(_FINISH)
        self._counts = register(_COUNTS)
        self._purge = register(_PURGE)
        self._cancel = register(_CANCEL)

    def create(self, job_id: str, inputs: JobInputs, *, max_queued: int | None = None) -> JobRecord:
        created = self._create(
            keys=[self._job_key(job_id), self._queued, self._clock],
            args=[
                job_id,
                inputs.person_image,
                inputs.clothing_image,
                _token(),
                json.dumps(inputs.options),
                "" if max_queued is None else max_queued,
                inputs.bottom_image or b"",
            ],
        )
        if created is None:
            raise ValueError(f"job {job_id!r} already exists")
        if isinstance(created, list):
            raise QueueFull(int(created[1]))
        now = _seconds(created)
        return JobRecord(job_id, JobStatus.QUEUED, None, 0, 0, now, now, options=dict(inputs.options))

    def get(self, job_id: str) -> JobRecord | None:
        values = self._redis.hmget(self._job_key(job_id), _RECORD_FIELDS)
        return None if values[0] is None else _record(job_id, values)

    def claim(self, worker_id: str) -> tuple[JobRecord, JobInputs] | None:
        reply = self._claim(
            keys=[
                self._queued, self._leases, self._finished, f"{self._prefix}claim:{_token()}", self._ended
            ],
            args=[self._job_key(""), worker_id, self._lease_us, self._max_attempts],
        )
        if not reply:
            return None
        job_id, *values, person, clothing, bottom = reply
        record = _record(job_id.decode(), values)
        return record, JobInputs(person, clothing, record.options, bottom)

    def advance(self, job_id: str, worker_id: str, *, step: str, progress: int) -> bool:
        return 1 == self._advance(
            keys=[self._job_key(job_id), self._leases],
            args=[job_id, worker_id, self._lease_us, step, int(progress)],
        )

    def renew(self, job_ids: list[str], worker_id: str) -> None:
        if job_ids:
            self._renew(
                keys=[self._leases], args=[self._job_key(""), worker_id, self._lease_us, *job_ids]
            )

    def complete(self, job_id: str, worker_id: str, result: JobResult) -> bool:
        return self._end(
            job_id,
            worker_id,
            JobStatus.COMPLETED,
            first_picture(result.pictures).data or b"",
            first_picture(result.pictures).key,
            result.warning,
            result.details,
            more_pictures_json(result.pictures),
        )

    def fail(self, job_id: str, worker_id: str, error: str) -> bool:
        return self._end(job_id, worker_id, JobStatus.FAILED, error)

    def cancel(self, job_id: str, reason: str) -> bool:
        return 1 == self._cancel(
            keys=[self._job_key(job_id), self._queued, self._leases, self._finished, self._ended],
            args=[job_id, reason],
        )

    def purge_finished(self, older_than_seconds: float) -> int:
        age_us = round(older_than_seconds * 1_000_000)
        purged = 0
        while batch := self._purge(keys=[self._ended, self._finished], args=[self._job_key(""), age_us]):
            purged += batch
        return purged

    def counts(self) -> dict[str, int]:
        queued, processing, completed, failed = self._counts(
            keys=[self._queued, self._leases, self._finished]
        )
        return {
            JobStatus.QUEUED.value: queued,
            JobStatus.PROCESSING.value: processing,
            JobStatus.COMPLETED.value: completed,
            JobStatus.FAILED.value: failed,
        }

    def close(self) -> None:
        self._redis.close()
        self._pool.disconnect()

    def _end(
        self,
        job_id: str,
        worker_id: str,
        status: JobStatus,
        payload: bytes | str,
        result_key: str | None = None,
        warning: str | None = None,
        details: dict | None = None,
        more_results: str = "[]",
    ) -> bool:
        return 1 == self._finish(
            keys=[self._job_key(job_id), self._queued, self._leases, self._finished, self._ended],
            args=[
                job_id,
                worker_id,
                status.value,
                payload,
                _token(),
                result_key or "",
                warning or "",
                json.dumps(details or {}),
                more_results,
            ],
        )

    def _register(self, source: str) -> Callable[..., object]:
        """The Lua script, callable like redis-py's; a refusal for lack of memory or of disk
        (``OOM`` over maxmemory, ``MISCONF`` when it cannot persist) is raised as ``StoreFull``."""
        script = self._redis.register_script(source)

        def call(**arguments: list) -> object:
            try:
                return script(**arguments)
            except OutOfMemoryError as error:
                raise self._refused_for_space(f"Redis is out of memory ({error})") from error
            except ResponseError as error:
                if not str(error).startswith("MISCONF"):  # it cannot write its snapshot or AOF
                    raise
                raise self._refused_for_space(f"Redis cannot persist ({error})") from error

        return call

    def _job_key(self, job_id: str) -> str:
        return f"{self._prefix}job:{job_id}"


def _retries_for(seconds: float) -> int:
    """How many retries with the backoff above add up to about ``seconds`` of waiting."""
    backoff, waited, retries = ExponentialBackoff(cap=2, base=0.05), 0.0, 0
    while waited < seconds:
        retries += 1
        waited += backoff.compute(retries)
    return retries


def _token() -> str:
    """Identifies one call, so redis-py retrying it after a lost reply does not apply it twice."""
    return uuid.uuid4().hex


def _seconds(microseconds: bytes | int) -> float:
    return int(microseconds) / 1_000_000


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _record(job_id: str, values: list) -> JobRecord:
    (status, step, progress, attempts, error, created, updated, result, result_key, warning, options, details,
     more_results) = values
    return JobRecord(
        job_id=job_id,
        status=JobStatus(status.decode()),
        step=_text(step),
        progress=int(progress),
        attempts=int(attempts),
        created_at=_seconds(created),
        updated_at=_seconds(updated),
        error=_text(error),
        pictures=pictures_of(result, _text(result_key), _text(more_results)),
        warning=_text(warning),
        options=json.loads(options or b"{}"),
        details=json.loads(details or b"{}"),
    )
