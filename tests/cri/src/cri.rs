//! The CRI client: containerd's RuntimeService over its unix socket (tonic), every call with a
//! deadline (the grpc-timeout the server sees, and the same bound on the client side), and
//! each call's latency recorded under a label for the table.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Request, Response, Status};

/// How long the client waits past a call's deadline for the server's own DeadlineExceeded.
const MARGIN: Duration = Duration::from_secs(2);

/// Connects to the CRI socket (the `http://` URI is only a placeholder for the unix socket).
pub async fn connect(socket: &Path) -> Result<Channel, String> {
    let path: PathBuf = socket.to_path_buf();
    Endpoint::from_static("http://cri.invalid")
        .connect_timeout(Duration::from_secs(10))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
        .map_err(|e| format!("connect {}: {e}", socket.display()))
}

/// One handler's client: the calls it made, in order, with their latency.
pub struct Cri {
    runtime: RuntimeServiceClient<Channel>,
    pub timings: Vec<(&'static str, Duration)>,
}

fn request<T>(message: T, deadline: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(deadline);
    request
}

macro_rules! rpc {
    ($($name:ident($req:ty) -> $resp:ty;)*) => {
        $(
            pub async fn $name(
                &mut self,
                label: &'static str,
                deadline: Duration,
                message: $req,
            ) -> Result<$resp, Status> {
                let mut client = self.runtime.clone();
                let call = async move { client.$name(request(message, deadline)).await };
                self.timed(Some(label), deadline, call).await
            }
        )*
    };
}

impl Cri {
    pub fn new(channel: Channel) -> Self {
        Cri {
            runtime: RuntimeServiceClient::new(channel),
            timings: Vec::new(),
        }
    }

    async fn timed<T>(
        &mut self,
        label: Option<&'static str>,
        deadline: Duration,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, Status> {
        let start = Instant::now();
        let result = match tokio::time::timeout(deadline + MARGIN, call).await {
            Ok(result) => result.map(Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer within {deadline:?} (+{MARGIN:?})"
            ))),
        };
        if let Some(label) = label {
            self.timings.push((label, start.elapsed()));
        }
        result
    }

    /// ContainerStatus without a latency entry (the polls while waiting for a state).
    pub async fn container_status_quiet(&mut self, id: &str) -> Result<ContainerStatus, Status> {
        let mut client = self.runtime.clone();
        let message = ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        };
        let deadline = Duration::from_secs(10);
        let call = async move { client.container_status(request(message, deadline)).await };
        let response = self.timed(None, deadline, call).await?;
        response
            .status
            .ok_or_else(|| Status::internal("ContainerStatus without a status"))
    }

    rpc! {
        version(VersionRequest) -> VersionResponse;
        status(StatusRequest) -> StatusResponse;
        run_pod_sandbox(RunPodSandboxRequest) -> RunPodSandboxResponse;
        pod_sandbox_status(PodSandboxStatusRequest) -> PodSandboxStatusResponse;
        list_pod_sandbox(ListPodSandboxRequest) -> ListPodSandboxResponse;
        stop_pod_sandbox(StopPodSandboxRequest) -> StopPodSandboxResponse;
        remove_pod_sandbox(RemovePodSandboxRequest) -> RemovePodSandboxResponse;
        create_container(CreateContainerRequest) -> CreateContainerResponse;
        start_container(StartContainerRequest) -> StartContainerResponse;
        container_status(ContainerStatusRequest) -> ContainerStatusResponse;
        list_containers(ListContainersRequest) -> ListContainersResponse;
        exec_sync(ExecSyncRequest) -> ExecSyncResponse;
        exec(ExecRequest) -> ExecResponse;
        attach(AttachRequest) -> AttachResponse;
        container_stats(ContainerStatsRequest) -> ContainerStatsResponse;
        list_container_stats(ListContainerStatsRequest) -> ListContainerStatsResponse;
        update_container_resources(UpdateContainerResourcesRequest) -> UpdateContainerResourcesResponse;
        stop_container(StopContainerRequest) -> StopContainerResponse;
        remove_container(RemoveContainerRequest) -> RemoveContainerResponse;
    }

    /// Records a latency measured outside a gRPC call (a streaming session).
    pub fn record(&mut self, label: &'static str, elapsed: Duration) {
        self.timings.push((label, elapsed));
    }
}
