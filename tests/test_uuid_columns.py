"""UUID columns read back as the UUIDs written, whichever way the database stores them."""

from __future__ import annotations

import pickle
import uuid

from sqlalchemy import select

from models.base import _uuid_from_hex
from models.database import Database
from models.users import User
from tests.factories import create_user


def test_a_uuid_from_its_hex_digits_is_the_uuid() -> None:
    for made in (uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)):
        read = _uuid_from_hex(made.hex)
        assert read == made
        assert hash(read) == hash(made)
        assert (str(read), repr(read), read.version) == (str(made), repr(made), made.version)
        assert pickle.loads(pickle.dumps(read)) == made
    spelled = uuid.uuid4()
    assert _uuid_from_hex(str(spelled)) == spelled
    assert _uuid_from_hex(None) is None


async def test_ids_read_back_as_written(db: Database) -> None:
    user = await create_user(db)
    async with db.read() as session:
        read = await session.scalar(select(User.id).where(User.id == user.id))
    assert isinstance(read, uuid.UUID)
    assert read == user.id
