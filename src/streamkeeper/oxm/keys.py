"""Token keys: the per-tenant keys viewer JWTs are verified with, stored in the catalog.

Shared by `/admin/v1/token-keys`, the `[oxm]` section of config files and the CLI. HS256
secrets are write-only: listings say that a secret is set, never what it is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..admin.models import TenantRow
from ..admin.schemas import IDENT
from ..admin.service import AlreadyExists, Invalid, NotFound
from ..catalog_version import bump
from .models import TokenKeyRow
from .tokens import KeyError_, TokenKey

DEFAULT_ISSUER = "streamkeeper"
DEFAULT_AUDIENCE = "streamkeeper-oxm"


class TokenKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    tenant: str = Field(pattern=IDENT)
    algorithm: Literal["HS256", "RS256", "ES256"]
    secret: str | None = Field(default=None, min_length=32, max_length=1024,
                               description="HS256 shared secret (write-only)")
    public_key: str | None = Field(default=None, alias="publicKey", max_length=16_384,
                                   description="RS256/ES256 public key, PEM")
    issuer: str = Field(default=DEFAULT_ISSUER, min_length=1, max_length=512, description="Required `iss`")
    audience: str = Field(default=DEFAULT_AUDIENCE, min_length=1, max_length=512, description="Required `aud`")

    @model_validator(mode="after")
    def _material_fits_algorithm(self) -> "TokenKeyBody":
        if self.algorithm == "HS256" and (self.secret is None or self.public_key is not None):
            raise ValueError("HS256 keys take a `secret` and no `publicKey`")
        if self.algorithm != "HS256" and (self.public_key is None or self.secret is not None):
            raise ValueError(f"{self.algorithm} keys take a `publicKey` (PEM) and no `secret`")
        return self


class TokenKeySpec(TokenKeyBody):
    id: str = Field(pattern=IDENT)

    def domain(self) -> TokenKey:
        material = self.secret if self.algorithm == "HS256" else self.public_key
        return TokenKey(self.id, self.tenant, self.algorithm, material or "", self.issuer, self.audience)


class TokenKeyOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    tenant: str
    algorithm: str
    public_key: str | None = Field(default=None, alias="publicKey")
    has_secret: bool = Field(alias="hasSecret")
    issuer: str
    audience: str


def _out(row: TokenKeyRow) -> TokenKeyOut:
    hs = row.algorithm == "HS256"
    return TokenKeyOut(id=row.id, tenant=row.tenant_id, algorithm=row.algorithm,
                       public_key=None if hs else row.key, has_secret=hs, issuer=row.issuer,
                       audience=row.audience)


def _domain(row: TokenKeyRow) -> TokenKey:
    return TokenKey(row.id, row.tenant_id, row.algorithm, row.key, row.issuer, row.audience)


class TokenKeys:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def list(self) -> list[TokenKeyOut]:
        async with self._sessions() as db:
            return [_out(r) for r in (await db.scalars(select(TokenKeyRow).order_by(TokenKeyRow.id))).all()]

    async def get(self, key_id: str) -> TokenKeyOut:
        return _out(await self._row(key_id))

    async def signing(self, key_id: str) -> TokenKey:
        """The key with its material (for minting test tokens)."""
        return _domain(await self._row(key_id))

    async def _row(self, key_id: str) -> TokenKeyRow:
        async with self._sessions() as db:
            row = await db.get(TokenKeyRow, key_id)
        if row is None:
            raise NotFound(f"no token key {key_id!r}")
        return row

    async def save(self, spec: TokenKeySpec, *, create: bool | None = None) -> TokenKeyOut:
        key = spec.domain()
        try:
            key.verifier()
        except KeyError_ as exc:
            raise Invalid(str(exc)) from None
        async with self._sessions() as db:
            if await db.get(TenantRow, spec.tenant) is None:
                raise Invalid(f"no tenant {spec.tenant!r}")
            row = await db.get(TokenKeyRow, spec.id)
            if create is True and row is not None:
                raise AlreadyExists(f"token key {spec.id!r} already exists")
            if create is False and row is None:
                raise NotFound(f"no token key {spec.id!r}")
            if row is None:
                row = TokenKeyRow(id=spec.id)
                db.add(row)
            row.tenant_id, row.algorithm, row.key = key.tenant, key.algorithm, key.material
            row.issuer, row.audience = key.issuer, key.audience
            await bump(db)
            await db.commit()
            return _out(row)

    async def delete(self, key_id: str) -> None:
        async with self._sessions() as db:
            row = await db.get(TokenKeyRow, key_id)
            if row is None:
                raise NotFound(f"no token key {key_id!r}")
            await db.delete(row)
            await bump(db)
            await db.commit()
