from argon2 import PasswordHasher

from shared.accounts import authenticate, create_user
from shared.accounts.passwords import hash_password, needs_rehash, verify_password


def test_argon2id_hash_verifies_and_salts():
    one, two = hash_password("s3cret pass"), hash_password("s3cret pass")
    assert one.startswith("$argon2id$") and one != two
    assert verify_password(one, "s3cret pass")
    assert not verify_password(one, "s3cret pasS")
    assert not verify_password("not a hash", "s3cret pass")
    assert not needs_rehash(one)


async def test_old_parameters_are_rehashed_on_sign_in(pool):
    user_id, _ = await create_user(pool, "Old@Example.com", "original password", "Old")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("original password")
    assert needs_rehash(weak)
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE accounts_users SET password_hash = %s WHERE id = %s", (weak, user_id)
        )

    assert await authenticate(pool, "old@example.com", "wrong password") is None
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT * FROM accounts_users")).fetchone()
    assert row["password_hash"] == weak, "a failed sign-in must not touch the hash"

    user = await authenticate(pool, "  OLD@example.COM ", "original password")
    assert user is not None and user.id == user_id and user.email == "old@example.com"
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT * FROM accounts_users")).fetchone()
    assert row["password_hash"] != weak and not needs_rehash(row["password_hash"])
    assert row["last_sign_in_at"] is not None
    assert verify_password(row["password_hash"], "original password")


async def test_unknown_email_still_spends_a_verification(pool, monkeypatch):
    from shared.accounts import users

    burned = []
    monkeypatch.setattr(users, "burn_verification", lambda pw: burned.append(len(pw)))
    assert await authenticate(pool, "nobody@example.com", "whatever pw") is None
    assert await authenticate(pool, "not an email", "x" * 5000) is None
    assert burned == [11, 1024]
