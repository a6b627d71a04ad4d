//! Reads for the runtime API ([`crate::runtime_api`]): what a worker or a client polls, one
//! bounded page at a time ([`appchain_primitives::page`]). Nothing here writes.

use crate::{
	Config, JobId, JobOf, Jobs, Pallet, SubjobFilter, SubjobId, SubjobOf, SubjobState, Subjobs,
};
use appchain_primitives::page::{collect_page, Page};
use frame_support::traits::Get;
use sp_runtime::traits::{One, Saturating};

impl<T: Config> Pallet<T> {
	/// Whether a claim on `job` can hand out nonces: a returned range, or fresh nonces and room
	/// for another open subjob. (A claimer too small for a returned range may still have to
	/// wait, see `claim`.)
	pub fn is_claimable(job: &JobOf<T>) -> bool {
		let tracked = job.open_subjobs.saturating_add(job.returned.len() as u32);
		!job.returned.is_empty() || (job.next < job.range.end && tracked < T::MaxOpenSubjobs::get())
	}

	/// Whether a `reclaim` of `subjob` included in the next block succeeds.
	pub fn is_reclaimable(subjob: &SubjobOf<T>) -> bool {
		let next = frame_system::Pallet::<T>::block_number().saturating_add(One::one());
		match subjob.state {
			SubjobState::Claimed | SubjobState::Committed { .. } => next > subjob.deadline,
			SubjobState::Revealed { challenge_at, .. } => {
				next > challenge_at.saturating_add(T::AnswerWindow::get())
			},
		}
	}

	/// The jobs a claim can take nonces from, after job `after` in storage order.
	pub fn claimable_jobs(after: Option<JobId>, limit: u32) -> Page<(JobId, JobOf<T>), JobId> {
		let entries = match after {
			Some(id) => Jobs::<T>::iter_from(Jobs::<T>::hashed_key_for(id)),
			None => Jobs::<T>::iter(),
		};
		collect_page(entries, limit, |_, job| Self::is_claimable(job))
	}

	/// The open subjobs `filter` selects, after subjob `after` in storage order.
	pub fn subjobs_where(
		filter: SubjobFilter,
		after: Option<SubjobId>,
		limit: u32,
	) -> Page<(SubjobId, SubjobOf<T>), SubjobId> {
		let entries = match after {
			Some(id) => Subjobs::<T>::iter_from(Subjobs::<T>::hashed_key_for(id)),
			None => Subjobs::<T>::iter(),
		};
		collect_page(entries, limit, |_, subjob| match filter {
			SubjobFilter::All => true,
			SubjobFilter::Node(node) => subjob.node == node,
			SubjobFilter::Job(job) => subjob.job == job,
			SubjobFilter::Reclaimable => Self::is_reclaimable(subjob),
		})
	}
}
