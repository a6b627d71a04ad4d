//! The client side of the activation API: one [`Hop`] is a session on one node.

use std::time::Duration;

use appchain_llm_engine::wire::{self, FrameHeader};

use super::{parse_session, ApiErrorBody, NodeInfo, SessionOpened};
use crate::payments::SignedVoucher;

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
		let response = http
			.post(format!("{endpoint}/v1/sessions"))
			.send()
			.await
			.map_err(unreachable(&endpoint))?;
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
		Ok(Self { http, endpoint, model, layers, hidden, session })
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
	/// given, and returns the output.
	pub async fn forward(
		&self,
		position: usize,
		values: &[f32],
		voucher: Option<&SignedVoucher>,
	) -> Result<Vec<f32>, HopError> {
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
		Ok(out)
	}

	/// Closes the session (best effort: an unreachable node evicts it when idle).
	pub async fn close(&self) {
		let url = format!("{}/v1/sessions/{}", self.endpoint, super::session_hex(&self.session));
		let _ = self.http.delete(url).send().await;
	}
}
