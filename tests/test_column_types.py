"""UUID and timestamp columns read back as written, whichever way the database stores them."""

from __future__ import annotations

import pickle
import uuid
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, update

from models.base import UTCDateTime, _uuid_from_hex
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


async def test_timestamps_read_back_aware_in_utc(db: Database) -> None:
    # Given a user whose last sign-in was written as a time in another zone
    user = await create_user(db)
    written = datetime(2026, 3, 29, 2, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.begin() as session:
        await session.execute(update(User).where(User.id == user.id).values(last_login_at=written))

    # When it is read back as a row and as an entity
    async with db.read() as session:
        row = (
            await session.execute(select(User.last_login_at, User.created_at).where(User.id == user.id))
        ).one()
        entity = await session.get(User, user.id)

    # Then each is the same instant, in UTC
    assert entity is not None
    for read in (row.last_login_at, entity.last_login_at):
        assert read == written
        assert read.tzinfo is UTC
        assert read.hour == 0
    assert row.created_at.tzinfo is UTC
    assert row.created_at == user.created_at


def test_a_timestamp_in_another_zone_or_none_reads_as_utc(db: Database) -> None:
    # Given the column type's reading for this database, and for a driver that reads timestamps
    # (aware ones in any zone, as a PostgreSQL driver might) itself
    dialect = db.engine.dialect
    column = UTCDateTime()
    column.impl_instance.result_processor = lambda *_: None  # type: ignore[method-assign]
    process = column.result_processor(dialect, None)
    elsewhere = datetime(2026, 1, 1, 23, 0, tzinfo=timezone(timedelta(hours=-5)))

    # Then null stays null, UTC stays itself, another zone becomes UTC
    assert process(None) is None
    in_utc = elsewhere.astimezone(UTC)
    assert process(in_utc) is in_utc
    assert process(elsewhere) == elsewhere
    assert process(elsewhere).tzinfo is UTC


def test_every_mapped_attribute_is_named_as_its_column_and_none_is_a_relationship() -> None:
    # Rows read for showing (models.base.stored) are read like entities by attribute name
    import models  # noqa: F401 - every model registered
    from models.base import Base

    for mapper in Base.registry.mappers:
        assert not mapper.relationships, mapper.class_
        for attribute in mapper.column_attrs:
            assert attribute.key == attribute.columns[0].name, (mapper.class_, attribute.key)
