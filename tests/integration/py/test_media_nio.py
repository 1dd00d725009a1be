"""Media through matrix-nio (0.20), which uploads on /_matrix/media/r0/upload and downloads
from the deprecated unauthenticated routes: it works against a server with
media.legacy_unauthenticated on, and sees 404 for new media on a frozen (default) server.
Includes an end-to-end encrypted attachment, which the server stores as opaque bytes."""

import io
import unittest
import uuid

from nio import (AsyncClient, AsyncClientConfig, DownloadError, DownloadResponse, RegisterResponse,
                 ThumbnailResponse, UploadResponse)
from nio.crypto.attachments import decrypt_attachment

from harness import ServerFixture
from media_helpers import image_size, make_jpeg, make_voice_note


def nio_config():
    return AsyncClientConfig(max_timeouts=2, encryption_enabled=False, store_sync_tokens=False,
                             request_timeout=20)


class NioMediaTests(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.legacy = ServerFixture(config_toml="[media]\nlegacy_unauthenticated = true\n")
        cls.legacy.start()
        cls.frozen = ServerFixture()
        try:
            cls.frozen.start()
        except Exception:
            cls.legacy.teardown()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.legacy.teardown()
        cls.frozen.teardown()

    async def asyncSetUp(self):
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            await c.close()

    async def client(self, server):
        c = AsyncClient(server.base_url, "", config=nio_config())
        self.clients.append(c)
        resp = await c.register("nio" + uuid.uuid4().hex[:8], "nio media password", device_name="nio")
        self.assertIsInstance(resp, RegisterResponse, resp)
        return c

    async def upload(self, c, data, content_type, filename, encrypt=False):
        resp, keys = await c.upload(lambda *_: io.BytesIO(data), content_type=content_type, filename=filename,
                                    encrypt=encrypt, filesize=len(data))
        self.assertIsInstance(resp, UploadResponse, resp)
        self.assertTrue(resp.content_uri.startswith("mxc://localhost/"))
        return resp.content_uri, keys

    async def test_photo_voice_note_and_encrypted_attachment(self):
        c = await self.client(self.legacy)
        photo = make_jpeg(640, 480)
        uri, _ = await self.upload(c, photo, "image/jpeg", "photo.jpg")
        got = await c.download(uri)
        self.assertIsInstance(got, DownloadResponse, got)
        self.assertEqual(got.body, photo)
        self.assertEqual(got.content_type, "image/jpeg")
        self.assertEqual(got.filename, "photo.jpg")
        thumb = await c.thumbnail("localhost", uri.rsplit("/", 1)[1], 96, 96)
        self.assertIsInstance(thumb, ThumbnailResponse, thumb)
        self.assertEqual(image_size(thumb.body), (320, 240))  # scale to 320x240, the next size up

        # An encrypted voice note: AES-CTR ciphertext, opaque to the server.
        voice = make_voice_note()
        uri, keys = await self.upload(c, voice, "audio/ogg", "voice.ogg", encrypt=True)
        got = await c.download(uri)
        self.assertIsInstance(got, DownloadResponse, got)
        self.assertEqual(got.content_type, "application/octet-stream")
        plain = decrypt_attachment(got.body, keys["key"]["k"], keys["hashes"]["sha256"], keys["iv"])
        self.assertEqual(plain, voice)

    async def test_frozen_server_keeps_new_media_off_the_legacy_routes(self):
        c = await self.client(self.frozen)
        uri, _ = await self.upload(c, b"meeting notes\n", "text/plain", "notes.txt")
        got = await c.download(uri)
        self.assertIsInstance(got, DownloadError, got)
        self.assertEqual(got.status_code, "M_NOT_FOUND")
        st, body, raw, _ = self.frozen.http("GET", "/_matrix/client/v1/media/download/" + uri[len("mxc://"):],
                                            token=c.access_token, raw_response=True)
        self.assertEqual((st, raw), (200, b"meeting notes\n"))


if __name__ == "__main__":
    unittest.main()
