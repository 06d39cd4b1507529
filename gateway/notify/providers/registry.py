"""The provider modules by policy name."""

from __future__ import annotations

from .apns import Apns
from .base import Provider
from .expo import Expo
from .fcm import Fcm
from .mailgun import Mailgun
from .postmark import Postmark
from .sendgrid import SendGrid
from .ses import Ses
from .sparkpost import SparkPost
from .webpush import WebPush

PROVIDERS: dict[str, type[Provider]] = {
    cls.name: cls for cls in (SendGrid, Mailgun, Postmark, Ses, SparkPost, WebPush, Fcm, Expo, Apns)
}
