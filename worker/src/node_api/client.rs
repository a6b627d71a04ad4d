//! The client side of the activation API: one [`Hop`] is a session on one node.
//!
//! A hop told whose node it is ([`Hop::with_receipts`]) checks the signed receipt of every
//! step before it hands the output over ([`SignedReceipt::check`]): a missing (when
//! required), malformed or wrong receipt is [`HopError::BadReceipt`], which the pipeline
//! treats as a faulty node.

use std::{
	sync::{
		atomic::{AtomicU32, Ordering},
		Arc,
	},
	time::Duration,
};

use appchain_llm_engine::wire::{self, FrameHeader};

use super::{parse_session, ApiErrorBody, NodeInfo, SessionOpened, RECEIPT_HEADER};
use crate::{
	payments::SignedVoucher,
	proofs::{ExpectedStep, ReceiptRefusal, SignedReceipt},
};

/// Why a hop failed.
#[derive(Debug, thiserror::Error)]
pub enum HopError {
	/// The node could not be reached or did not answer in time: route around it.
	#[error("node unreachable at {endpoint}: {reason}")]
	Unreachable {
		/// The endpoint.
		endpoint: String,
		/// What happened.
		reason: String,
	},
	/// The node answered with an API error.
	#[error("node at {endpoint} refused: {status} {code:?}: {message}")]
	Refused {
		/// The endpoint.
		endpoint: String,
		/// HTTP status.
		status: u16,
		/// API error code, when the body had one.
		code: Option<super::ApiErrorCode>,
		/// Its message.
		message: String,
	},
	/// The node answered something that is not the API.
	#[error("node at {endpoint} answered garbage: {reason}")]
	Garbage {
		/// The endpoint.
		endpoint: String,
		/// What was wrong.
		reason: String,
	},
	/// The step's receipt is missing, malformed, or not the step the node was asked for:
	/// its output is not used.
	#[error("node at {endpoint} sent a bad receipt: {reason}")]
	BadReceipt {
		/// The endpoint.
		endpoint: String,
		/// What was wrong.
		reason: ReceiptRefusal,
	},
}

/// Whose receipts a hop expects, and whether it requires them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptCheck {
	/// The node's id on chain.
	pub node: u64,
	/// Its owner's public key (the receipts' signer).
	pub owner: [u8; 32],
	/// The genesis hash of the chain receipts are signed for.
	pub genesis: [u8; 32],
	/// Whether a step without a receipt is refused (`false` for nodes that predate them).
	pub require: bool,
}

/// A session on one node serving layers `[start, end)` of `model`.
#[derive(Debug, Clone)]
pub struct Hop {
	http: reqwest::Client,
	endpoint: String,
	model: u32,
	layers: (u32, u32),
	hidden: u32,
	session: [u8; 16],
	/// Checks each step's receipt when set.
	receipts: Option<ReceiptCheck>,
	/// The step the node computes next (clones share it: they are the same session).
	next_step: Arc<AtomicU32>,
}

/// An HTTP client with the timeouts a hop uses.
pub fn http_client(timeout: Duration) -> reqwest::Client {
	reqwest::Client::builder()
		.timeout(timeout)
		.connect_timeout(Duration::from_secs(3))
		.build()
		.unwrap_or_default()
}

async fn refused(endpoint: &str, response: reqwest::Response) -> HopError {
	let status = response.status().as_u16();
	let text = response.text().await.unwrap_or_default();
	match serde_json::from_str::<ApiErrorBody>(&text) {
		Ok(body) => HopError::Refused {
			endpoint: endpoint.into(),
			status,
			code: Some(body.error.code),
			message: body.error.message,
		},
		Err(_) => {
			HopError::Refused { endpoint: endpoint.into(), status, code: None, message: text }
		},
	}
}

fn unreachable(endpoint: &str) -> impl FnOnce(reqwest::Error) -> HopError + '_ {
	move |e| HopError::Unreachable { endpoint: endpoint.into(), reason: e.to_string() }
}

/// `GET /v1/info` of a node.
pub async fn info(http: &reqwest::Client, endpoint: &str) -> Result<NodeInfo, HopError> {
	let response =
		http.get(format!("{endpoint}/v1/info")).send().await.map_err(unreachable(endpoint))?;
	if !response.status().is_success() {
		return Err(refused(endpoint, response).await);
	}
	let bytes = response.bytes().await.map_err(unreachable(endpoint))?;
	serde_json::from_slice(&bytes)
		.map_err(|e| HopError::Garbage { endpoint: endpoint.into(), reason: e.to_string() })
}

impl Hop {
	/// Opens a session on the node at `endpoint` and checks that it serves `model`'s layers
	/// `[start, end)` with hidden size `hidden`.
	pub async fn open(
		http: reqwest::Client,
		endpoint: &str,
		model: u32,
		layers: (u32, u32),
		hidden: u32,
	) -> Result<Self, HopError> {
		Self::open_for(http, endpoint, model, layers, hidden, None).await
	}

	/// [`Hop::open`], naming `client` as the account the session is for
	/// ([`CLIENT_HEADER`](super::CLIENT_HEADER)).
	pub async fn open_for(
		http: reqwest::Client,
		endpoint: &str,
		model: u32,
		layers: (u32, u32),
		hidden: u32,
		client: Option<[u8; 32]>,
	) -> Result<Self, HopError> {
		let endpoint = endpoint.trim_end_matches('/').to_string();
		let node = info(&http, &endpoint).await?;
		if node.model != model || node.layers != [layers.0, layers.1] || node.hidden != hidden {
			return Err(HopError::Garbage {
				endpoint,
				reason: format!(
					"serves model {} layers {:?} hidden {}, the chain says model {model} layers {layers:?} hidden {hidden}",
					node.model, node.layers, node.hidden
				),
			});
		}
		let mut request = http.post(format!("{endpoint}/v1/sessions"));
		if let Some(client) = client {
			request = request.header(super::CLIENT_HEADER, format!("0x{}", hex::encode(client)));
		}
		let response = request.send().await.map_err(unreachable(&endpoint))?;
		if !response.status().is_success() {
			return Err(refused(&endpoint, response).await);
		}
		let bytes = response.bytes().await.map_err(unreachable(&endpoint))?;
		let opened: SessionOpened = serde_json::from_slice(&bytes)
			.map_err(|e| HopError::Garbage { endpoint: endpoint.clone(), reason: e.to_string() })?;
		let session = parse_session(&opened.session).ok_or_else(|| HopError::Garbage {
			endpoint: endpoint.clone(),
			reason: format!("bad session id {}", opened.session),
		})?;
		Ok(Self {
			http,
			endpoint,
			model,
			layers,
			hidden,
			session,
			receipts: None,
			next_step: Arc::new(AtomicU32::new(0)),
		})
	}

	/// Checks every step's receipt from now on against `check` (without it, receipts are
	/// neither checked nor returned).
	pub fn with_receipts(mut self, check: ReceiptCheck) -> Self {
		self.receipts = Some(check);
		self
	}

	/// The session on the node.
	pub fn session(&self) -> [u8; 16] {
		self.session
	}

	/// Steps this hop's session has computed.
	pub fn steps(&self) -> u32 {
		self.next_step.load(Ordering::SeqCst)
	}

	/// The node's endpoint.
	pub fn endpoint(&self) -> &str {
		&self.endpoint
	}

	/// Layers of this hop.
	pub fn layers(&self) -> (u32, u32) {
		self.layers
	}

	/// Sends `hidden` (`tokens × hidden` values at `position`), paying with `voucher` if
	/// given, and returns the output with its checked receipt (none when the hop checks no
	/// receipts, or the node sent none and they are not required).
	pub async fn forward(
		&self,
		position: usize,
		values: &[f32],
		voucher: Option<&SignedVoucher>,
	) -> Result<(Vec<f32>, Option<SignedReceipt>), HopError> {
		let tokens = values.len() / self.hidden.max(1) as usize;
		let header = FrameHeader {
			model: self.model,
			layers: self.layers,
			session: self.session,
			position: position as u32,
			tokens: tokens as u32,
			hidden: self.hidden,
		};
		let url =
			format!("{}/v1/sessions/{}/forward", self.endpoint, super::session_hex(&self.session));
		let mut request = self.http.post(url).header("content-type", "application/octet-stream");
		if let Some(v) = voucher {
			request = request
				.header(super::CHANNEL_HEADER, v.channel.to_string())
				.header(super::CUMULATIVE_HEADER, v.cumulative.to_string())
				.header(super::SIGNATURE_HEADER, format!("0x{}", hex::encode(v.signature)));
		}
		let response = request
			.body(wire::encode(&header, values))
			.send()
			.await
			.map_err(unreachable(&self.endpoint))?;
		if !response.status().is_success() {
			return Err(refused(&self.endpoint, response).await);
		}
		let receipt_header = response
			.headers()
			.get(RECEIPT_HEADER)
			.map(|v| v.to_str().map(str::to_string).map_err(|e| e.to_string()));
		let bytes = response.bytes().await.map_err(unreachable(&self.endpoint))?;
		let (back, out) = wire::decode(&bytes).map_err(|e| HopError::Garbage {
			endpoint: self.endpoint.clone(),
			reason: e.to_string(),
		})?;
		if back.session != self.session
			|| back.tokens != header.tokens
			|| back.position != header.position
		{
			return Err(HopError::Garbage {
				endpoint: self.endpoint.clone(),
				reason: "the answer is for another step".into(),
			});
		}
		let receipt = match self.receipts {
			Some(check) => self.check_receipt(&check, receipt_header, &header, values, &out)?,
			None => None,
		};
		self.next_step.fetch_add(1, Ordering::SeqCst);
		Ok((out, receipt))
	}

	fn check_receipt(
		&self,
		check: &ReceiptCheck,
		text: Option<Result<String, String>>,
		header: &FrameHeader,
		input: &[f32],
		output: &[f32],
	) -> Result<Option<SignedReceipt>, HopError> {
		let bad = |reason| HopError::BadReceipt { endpoint: self.endpoint.clone(), reason };
		let text = match text {
			None if check.require => return Err(bad(ReceiptRefusal::Missing)),
			None => return Ok(None),
			Some(text) => text.map_err(|e| bad(ReceiptRefusal::Malformed(e)))?,
		};
		let signed =
			SignedReceipt::from_hex(&text).map_err(|e| bad(ReceiptRefusal::Malformed(e)))?;
		let expected = ExpectedStep {
			node: check.node,
			model: self.model,
			layers: self.layers,
			session: self.session,
			step: self.next_step.load(Ordering::SeqCst),
			position: header.position,
			tokens: header.tokens,
			hidden: self.hidden,
		};
		signed.check(&expected, input, output, &check.owner, &check.genesis).map_err(bad)?;
		Ok(Some(signed))
	}

	/// Closes the session (best effort: an unreachable node evicts it when idle).
	pub async fn close(&self) {
		let url = format!("{}/v1/sessions/{}", self.endpoint, super::session_hex(&self.session));
		let _ = self.http.delete(url).send().await;
	}
}
