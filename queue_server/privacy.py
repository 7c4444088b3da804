"""Personal data at the edge: ID numbers checked then hashed, names and phones masked.

The hall core never sees a raw ID number, name or phone: the API layer checks an
ID number here, turns it into a keyed hash (:meth:`queue_server.auth.Authority.person_key`)
and passes only masked names and phones on. Every view shows the masked forms.
"""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class PersonalDataError(ValueError):
    """Input that is not a valid ID number, name or phone; the message is zh-CN first."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID number."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def check_id_number(raw: str) -> str:
    """A valid 18-character resident ID number (居民身份证号码), upper-cased, or PersonalDataError."""
    value = raw.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise PersonalDataError("id_number", "身份证号应为18位，最后一位可为X (ID number must have 18 characters)")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise PersonalDataError("id_number", "身份证号中的出生日期无效 (invalid birth date in the ID number)") from None
    if id_check_digit(value[:17]) != value[17]:
        raise PersonalDataError("id_number", "身份证号校验位不正确，请核对 (the ID number's check digit is wrong)")
    return value


def check_phone(raw: str) -> str:
    value = re.sub(r"[\s-]", "", raw)
    if not re.fullmatch(r"1\d{10}", value):
        raise PersonalDataError("phone", "手机号应为11位数字 (phone must be 11 digits starting with 1)")
    return value


def mask_phone(phone: str) -> str:
    """138****5678."""
    return f"{phone[:3]}****{phone[-4:]}"


def mask_name(name: str) -> str:
    """张* / 张*明 / 欧阳**锋: the first and (for 3+ characters) last character stay."""
    name = name.strip()
    if not 1 <= len(name) <= 30:
        raise PersonalDataError("name", "姓名为1–30个字 (name must be 1–30 characters)")
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
