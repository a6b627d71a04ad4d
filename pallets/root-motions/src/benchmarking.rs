//! Benchmark of `enact`: the pallet's own overhead, with the cheapest call to enact (its weight is
//! added to the call's own).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use alloc::{boxed::Box, vec};
use frame_benchmarking::v2::*;
use frame_support::traits::EnsureOrigin;

#[benchmarks(where <T as Config>::RuntimeCall: From<frame_system::Call<T>>)]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn enact() {
		let origin = T::EnactOrigin::try_successful_origin()
			.map_err(|_| BenchmarkError::Weightless)
			.unwrap();
		let call: <T as Config>::RuntimeCall = frame_system::Call::remark { remark: vec![] }.into();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, Box::new(call));

		assert_eq!(frame_system::Pallet::<T>::events().len(), 1);
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
