"""A WebSocket test client over asgiref's ApplicationCommunicator. Not channels.testing's:
importing that package imports daphne (its live-server case), a server the portal does not use."""

from urllib.parse import urlparse

from asgiref.testing import ApplicationCommunicator


class WebsocketCommunicator(ApplicationCommunicator):
    def __init__(self, application, path, headers=None, client=("127.0.0.1", 50000)):
        parsed = urlparse(path)
        scope = {
            "type": "websocket",
            "path": parsed.path,
            "query_string": parsed.query.encode(),
            "headers": headers or [],
            "subprotocols": [],
            "client": client,
        }
        super().__init__(application, scope)

    async def connect(self, timeout=1):
        """(True, None) when accepted, (False, close code) when the handshake is refused."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept"
        return True, None

    async def send_to(self, text_data=None, bytes_data=None):
        if text_data is not None:
            await self.send_input({"type": "websocket.receive", "text": text_data})
        else:
            await self.send_input({"type": "websocket.receive", "bytes": bytes_data})

    async def disconnect(self, code=1000, timeout=1):
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)
