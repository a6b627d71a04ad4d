//! Reads for the runtime API ([`crate::runtime_api`]): what a worker or a client polls, one
//! bounded page at a time ([`appchain_primitives::page`]). Nothing here writes.

use crate::{
	Config, JobId, JobOf, Jobs, Pallet, SubjobFilter, SubjobId, SubjobOf, SubjobState, Subjobs,
};
use appchain_primitives::{
	hashjob::{self, Awaiting},
	page::{collect_page, Page},
};
use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{One, Saturating};

impl<T: Config> Pallet<T> {
	/// Whether a claim on `job` can hand out nonces (the shared rule,
	/// [`hashjob::has_work_for_a_claim`]).
	pub fn is_claimable(job: &JobOf<T>) -> bool {
		hashjob::has_work_for_a_claim(
			job.returned.len() as u32,
			job.open_subjobs,
			job.next,
			job.range.end,
			T::MaxOpenSubjobs::get(),
		)
	}

	/// Whether a `reclaim` of `subjob` included in the next block succeeds.
	pub fn is_reclaimable(subjob: &SubjobOf<T>) -> bool {
		let next = frame_system::Pallet::<T>::block_number().saturating_add(One::one());
		hashjob::reclaimable_in(Self::awaiting(subjob), next, T::AnswerWindow::get())
	}

	/// What `subjob` waits for, for the reclaim rule.
	pub(crate) fn awaiting(subjob: &SubjobOf<T>) -> Awaiting<BlockNumberFor<T>> {
		match subjob.state {
			SubjobState::Claimed | SubjobState::Committed { .. } => {
				Awaiting::Reveal { deadline: subjob.deadline }
			},
			SubjobState::Revealed { challenge_at, .. } => Awaiting::Answer { challenge_at },
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
