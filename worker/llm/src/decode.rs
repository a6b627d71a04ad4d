//! The generation loop as a state machine, so the same code drives layers in process and a
//! pipeline of remote nodes: [`Decoder::next_step`] gives the activations to push through the
//! layers, [`Decoder::accept`] takes the last layer's output and picks the next token.
//!
//! The steps are always the same for the same prompt: the whole prompt as one step, then one
//! token per step. A node that replays a session therefore sees exactly the inputs the first
//! node saw, and (on the same build and CPU class) computes bit-identical outputs.

use crate::{
	error::{EngineError, Result},
	model::{ClientHead, LayerShard, SessionCache},
	sampling::Sampler,
};

/// One forward step: `tokens.len()` tokens at positions `[position, position + tokens.len())`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
	/// Position of the first token.
	pub position: usize,
	/// The tokens of the step.
	pub tokens: Vec<u32>,
	/// Their embeddings, `tokens.len() × hidden` row-major.
	pub hidden: Vec<f32>,
}

/// Where a generation is.
pub struct Decoder<'h> {
	head: &'h ClientHead,
	sampler: Sampler,
	stop: Vec<u32>,
	max_new: usize,
	/// Tokens not yet pushed through the layers.
	pending: Vec<u32>,
	position: usize,
	generated: Vec<u32>,
	done: bool,
}

impl<'h> Decoder<'h> {
	/// A generation of at most `max_new` tokens after `prompt`, ending early at a stop token.
	pub fn new(
		head: &'h ClientHead,
		prompt: Vec<u32>,
		max_new: usize,
		sampler: Sampler,
		stop: Vec<u32>,
	) -> Result<Self> {
		if prompt.is_empty() {
			return Err(EngineError::BadActivations { expected: 1, got: 0 });
		}
		Ok(Self {
			head,
			sampler,
			stop,
			max_new,
			pending: prompt,
			position: 0,
			generated: Vec::new(),
			done: max_new == 0,
		})
	}

	/// The next step to push through the layers, or `None` when generation is over.
	pub fn next_step(&mut self) -> Result<Option<Step>> {
		if self.done {
			return Ok(None);
		}
		let tokens = self.pending.clone();
		let hidden = self.head.embed(&tokens)?;
		Ok(Some(Step { position: self.position, tokens, hidden }))
	}

	/// Takes the last block's output for the step from [`Self::next_step`]; returns the token
	/// it chose.
	pub fn accept(&mut self, output: &[f32]) -> Result<u32> {
		let logits = self.head.logits(output)?;
		let token = self
			.sampler
			.sample(&logits)
			.ok_or(EngineError::BadActivations { expected: self.head.config().vocab, got: 0 })?;
		self.position += self.pending.len();
		self.generated.push(token);
		self.pending = vec![token];
		if self.stop.contains(&token) || self.generated.len() >= self.max_new {
			self.done = true;
		}
		Ok(token)
	}

	/// The tokens generated so far (the stop token included when one ended generation).
	pub fn generated(&self) -> &[u32] {
		&self.generated
	}
}

/// Generates in process through `shards` (consecutive, covering every layer): the reference
/// the networked pipeline is compared with.
pub fn generate_local(
	head: &ClientHead,
	shards: &[&LayerShard],
	prompt: Vec<u32>,
	max_new: usize,
	sampler: Sampler,
	stop: Vec<u32>,
) -> Result<Vec<u32>> {
	let mut sessions: Vec<SessionCache> = shards.iter().map(|s| s.new_session()).collect();
	let mut decoder = Decoder::new(head, prompt, max_new, sampler, stop)?;
	while let Some(step) = decoder.next_step()? {
		let mut x = step.hidden;
		for (shard, session) in shards.iter().zip(sessions.iter_mut()) {
			x = shard.forward(session, step.position, &x)?;
		}
		decoder.accept(&x)?;
	}
	Ok(decoder.generated().to_vec())
}
