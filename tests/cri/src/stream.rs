//! The kubelet's side of CRI streaming (Exec, Attach): the URL that the RPC returns is served
//! by containerd's streaming server, which speaks the Kubernetes channel protocol over a
//! WebSocket (`v4.channel.k8s.io`): every binary message starts with its channel (0 stdin,
//! 1 stdout, 2 stderr, 3 error: a JSON metav1.Status when the process ends). A minimal
//! RFC 6455 client over a loopback TCP connection, enough for that.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const PROTOCOL: &str = "v4.channel.k8s.io";
const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xa;

/// What a session carried: the process's output and, at its end, its status.
#[derive(Debug, Default)]
pub struct Session {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The error channel's JSON (metav1.Status), when the server sent one.
    pub status: Option<serde_json::Value>,
}

impl Session {
    /// The exit code the status reports: 0 for Success, the ExitCode cause for a
    /// NonZeroExitCode failure.
    pub fn exit_code(&self) -> Option<i64> {
        let status = self.status.as_ref()?;
        if status.get("status")?.as_str()? == "Success" {
            return Some(0);
        }
        status
            .pointer("/details/causes")?
            .as_array()?
            .iter()
            .find(|c| c.get("reason").and_then(|r| r.as_str()) == Some("ExitCode"))?
            .get("message")?
            .as_str()?
            .parse()
            .ok()
    }
}

pub struct Stream {
    tcp: TcpStream,
    buffered: Vec<u8>,
}

/// Opens the WebSocket at URL (http://HOST:PORT/PATH, as containerd's Exec/Attach return).
pub async fn open(url: &str) -> Result<Stream, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {url}"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut tcp = TcpStream::connect(host)
        .await
        .map_err(|e| format!("connect {host}: {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: cnQtY3JpLXRpZXItbm9uY2U=\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send the upgrade request: {e}"))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err("the upgrade answer has no end".into());
        }
        match tcp.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            Ok(_) => {
                return Err(format!(
                    "connection closed in the upgrade answer: {:?}",
                    lossy(&head)
                ))
            }
            Err(e) => return Err(format!("read the upgrade answer: {e}")),
        }
    }
    let head = lossy(&head);
    let status_line = head.lines().next().unwrap_or_default();
    if !status_line.contains(" 101 ") {
        return Err(format!("no WebSocket upgrade: {head:?}"));
    }
    if !head.to_ascii_lowercase().contains(PROTOCOL) {
        return Err(format!("the server did not accept {PROTOCOL}: {head:?}"));
    }
    Ok(Stream {
        tcp,
        buffered: Vec::new(),
    })
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Stream {
    /// Reads until the server closes the session (or `until` is true of what came so far, or
    /// the deadline passes, which is an error).
    pub async fn read_session(
        &mut self,
        deadline: Duration,
        until: impl Fn(&Session) -> bool,
    ) -> Result<Session, String> {
        let end = Instant::now() + deadline;
        let mut session = Session::default();
        let mut message: Vec<u8> = Vec::new();
        loop {
            if until(&session) {
                return Ok(session);
            }
            let frame = tokio::time::timeout_at(end, self.frame())
                .await
                .map_err(|_| format!("no end of the session within {deadline:?}: {session:?}"))??;
            let Some((fin, opcode, payload)) = frame else {
                return Ok(session); // the connection closed
            };
            match opcode {
                OP_CLOSE => {
                    let _ = self.send(OP_CLOSE, &payload).await;
                    return Ok(session);
                }
                OP_PING => self.send(OP_PONG, &payload).await?,
                OP_PONG => {}
                OP_TEXT | OP_BINARY | OP_CONTINUATION => {
                    message.extend_from_slice(&payload);
                    if fin {
                        deliver(&mut session, &message)?;
                        message.clear();
                    }
                }
                other => return Err(format!("unknown WebSocket opcode {other:#x}")),
            }
        }
    }

    /// Ends the session from our side (a close frame), as `kubectl attach` does on detach.
    pub async fn close(mut self) {
        let _ = self.send(OP_CLOSE, &1000u16.to_be_bytes()).await;
        let _ = self.tcp.shutdown().await;
    }

    async fn fill(&mut self, n: usize) -> Result<bool, String> {
        let mut chunk = [0u8; 16 * 1024];
        while self.buffered.len() < n {
            match self.tcp.read(&mut chunk).await {
                Ok(0) => return Ok(false),
                Ok(got) => self.buffered.extend_from_slice(&chunk[..got]),
                Err(e) => return Err(format!("read a WebSocket frame: {e}")),
            }
        }
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buffered.drain(..n).collect()
    }

    /// One frame (FIN, opcode, payload), or None when the connection closed between frames.
    async fn frame(&mut self) -> Result<Option<(bool, u8, Vec<u8>)>, String> {
        if !self.fill(2).await? {
            return Ok(None);
        }
        let head = self.take(2);
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        let masked = head[1] & 0x80 != 0;
        let mut len = u64::from(head[1] & 0x7f);
        let extra = match len {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if extra > 0 {
            if !self.fill(extra).await? {
                return Err("connection closed in a frame header".into());
            }
            len = self
                .take(extra)
                .iter()
                .fold(0, |n, b| (n << 8) | u64::from(*b));
        }
        let len = usize::try_from(len).map_err(|_| "frame too large".to_string())?;
        let mask_len = if masked { 4 } else { 0 };
        if !self.fill(mask_len + len).await? {
            return Err("connection closed in a frame".into());
        }
        let mask = self.take(mask_len);
        let mut payload = self.take(len);
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok(Some((fin, opcode, payload)))
    }

    /// Sends one masked frame (a client must mask).
    async fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<(), String> {
        let mask = [0x52u8, 0x54, 0x43, 0x52];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp
            .write_all(&frame)
            .await
            .map_err(|e| format!("send a WebSocket frame: {e}"))
    }
}

fn deliver(session: &mut Session, message: &[u8]) -> Result<(), String> {
    let Some((&channel, data)) = message.split_first() else {
        return Ok(());
    };
    match channel {
        1 => session.stdout.extend_from_slice(data),
        2 => session.stderr.extend_from_slice(data),
        3 if !data.is_empty() => {
            let status = serde_json::from_slice(data)
                .map_err(|e| format!("error channel: {e}: {:?}", lossy(data)))?;
            session.status = Some(status);
        }
        _ => {}
    }
    Ok(())
}
