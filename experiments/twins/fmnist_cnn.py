"""Fashion-MNIST CNN, the PyTorch twin of configs/models/fmnist_cnn.yaml (same state_dict
names conv1, conv2, fc1, fc2): conv3x3(1->32, pad 1)-ReLU-maxpool2, conv3x3(32->64, pad 1)-
ReLU-maxpool2, flatten (64*7*7 = 3136 at 28x28), linear 3136->128-ReLU, linear 128->10
logits; 421,642 parameters. Used by tests/test_net_fmnist.c and
experiments/fashion_mnist/peer_torch.py."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class FmnistCNN(nn.Module):
    def __init__(self, in_channels=1, classes=10, hidden=128):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def build(**params):
    return FmnistCNN(**params)
